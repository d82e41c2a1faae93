"""The one place that builds citu's components from the running service's clients.

Each component receives only what it uses (a pool, a client, a callable); the order below is
the order of their dependencies. Handlers and tests reach the result as typed attributes of
``Services`` (``services().training``); a new component is added here and declared there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from citu.agents.ask_graph import AskAgent
from citu.agents.ask_service import AskService
from citu.agents.direct_ask import DirectAsk
from citu.agents.react.agent import ReactAgent
from citu.eval.run_service import build_eval
from citu.ops.endpoints import EndpointProbe
from citu.ops.prometheus import PoolSources
from citu.pipeline.service import build_pipeline
from citu.stores.conversations import ConversationStore
from citu.stores.feedback import FeedbackStore
from citu.training.embedder import Embedder
from citu.training.embedding_cache import EmbeddingCache
from citu.training.live_schema import LiveSchema, SchemaFallbackRetriever
from citu.training.retrieval import Retriever
from citu.training.service import TrainingService

if TYPE_CHECKING:
    from citu.services import Services


async def wire_components(svc: Services) -> None:
    """Build every component once, after the pools and clients of ``svc`` are open."""
    settings = svc.settings
    svc.endpoint_probe = EndpointProbe(settings)
    svc.conversations = ConversationStore(svc.redis, settings)
    await svc.ops.start(
        PoolSources(db=svc.db, business_db=lambda: svc.business_db, redis=svc.redis)
    )
    await _wire_training(svc)
    svc.feedback = FeedbackStore(svc.db)
    svc.pipeline = await build_pipeline(
        settings=settings,
        db=svc.db,
        llm=svc.llm,
        business_url=svc.business_db_url,
        business_db=svc.require_business_db,
        training=svc.training,
        write_gate=svc.ops.maintenance.ensure_writable,
        read_only=svc.ops.maintenance.is_read_only,
        sql_guard=svc.sql_guard,
    )
    svc.eval = await build_eval(svc.db, settings.data_dir)
    _wire_ask(svc)
    # After the training area: generate_sql builds its prompt from the retriever.
    svc.react = await ReactAgent.open(
        svc.database_url,
        svc.llm,
        svc.sql_context,
        svc.require_business_db,
        settings,
        svc.sql_guard,
    )


async def _wire_training(svc: Services) -> None:
    settings = svc.settings
    cache = EmbeddingCache(svc.redis, settings) if settings.enable_embedding_cache else None
    svc.embedder = Embedder(svc.embeddings, cache, settings)
    svc.training = TrainingService(
        svc.db,
        svc.embedder,
        settings,
        llm=svc.llm,
        write_gate=svc.ops.maintenance.ensure_writable,
        guard=svc.sql_guard,
    )
    await svc.training.setup()  # fails start-up when the stored vectors' dimension differs
    svc.retriever = Retriever(svc.db, svc.embedder, settings, store=svc.training.store)
    # What the SQL prompts use: when no DDL is found, the business schema from the catalog.
    svc.sql_context = SchemaFallbackRetriever(
        svc.retriever, LiveSchema(svc.require_business_db, settings)
    )


def _wire_ask(svc: Services) -> None:
    # Uses the retriever, training and conversation components: built after them.
    svc.ask_agent = None
    if svc.text_llm is not None:
        svc.ask_agent = AskAgent(
            svc.text_llm, svc.sql_context, svc.require_business_db, svc.settings, svc.sql_guard
        )
    svc.ask = AskService(
        svc.ask_agent, svc.conversations, svc.settings, endpoint_probe=svc.endpoint_probe
    )
    svc.direct_ask = DirectAsk(
        svc.ask_agent, svc.require_business_db, svc.training, svc.settings, svc.sql_guard
    )
