"""Decides whether a question needs the business database (DATABASE) or a chat answer (CHAT).

Keyword rules from ``classifier_dict.yaml`` decide the clear cases; an LLM is asked when the rules
are not confident enough (``hybrid``) or always (``llm_only``). Two modes skip classification.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from citu.agents.llm_calls import complete
from citu.agents.llm_text import current_question, strip_thinking
from citu.agents.prompts import prompt

log = logging.getLogger("citu.agents.ask.classifier")

ROUTING_MODES = ("database_direct", "chat_direct", "hybrid", "llm_only")
_INDICATOR_CATEGORY = "系统查询指示词"
_REQUIRED_SECTIONS = (
    "strong_business_keywords",
    "query_intent_keywords",
    "non_business_keywords",
    "sql_patterns",
    "chat_keywords",
    "weights",
)
_REQUIRED_WEIGHTS = (
    "business_entity",
    "system_indicator",
    "query_intent",
    "sql_pattern",
    "chat_keyword",
    "combination_bonus",
    "non_business_confidence",
    "high_confidence_threshold",
    "max_confidence",
    "llm_fallback_confidence",
    "uncertain_confidence",
    "llm_error_confidence",
    "strong_business_min_score",
    "strong_business_min_intent",
    "medium_business_min_score",
)


@dataclass(frozen=True)
class Classification:
    question_type: str  # DATABASE | CHAT | UNCERTAIN
    confidence: float
    reason: str
    method: str

    def info(self) -> dict[str, Any]:
        """The ``classification_info`` object of the API."""
        data = asdict(self)
        del data["question_type"]
        return data


@cache
def load_dictionary() -> dict[str, Any]:
    """The packaged keyword dictionary, checked once; a broken file fails at start."""
    text = resources.files("citu.agents").joinpath("classifier_dict.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    missing = [s for s in _REQUIRED_SECTIONS if s not in data]
    missing += [f"weights.{w}" for w in _REQUIRED_WEIGHTS if w not in data.get("weights", {})]
    if missing:
        raise ValueError(f"classifier_dict.yaml is missing {', '.join(missing)}")
    return data


@cache
def _scope_text() -> str:
    return resources.files("citu.agents").joinpath("prompts/db_query_scope.txt").read_text("utf-8")


def _hits(text: str, keywords: list[str]) -> list[str]:
    # Keywords are lower-cased too, so entries such as "SQL" or "G70" can match.
    return [k for k in keywords if str(k).lower() in text]


class QuestionClassifier:
    def __init__(self, llm: BaseChatModel | None) -> None:
        self.llm = llm
        self.words = load_dictionary()
        self.weights = self.words["weights"]
        self.sql_patterns = [re.compile(p, re.IGNORECASE) for p in self.words["sql_patterns"]]

    async def classify(self, question: str, routing_mode: str = "hybrid") -> Classification:
        if routing_mode == "database_direct":
            return Classification("DATABASE", 1.0, "配置为直接数据库查询模式", "direct_database")
        if routing_mode == "chat_direct":
            return Classification("CHAT", 1.0, "配置为直接聊天模式", "direct_chat")
        if routing_mode == "llm_only":
            return await self.classify_with_llm(question)
        by_rules = self.classify_with_rules(question)
        if by_rules.confidence >= self.weights["high_confidence_threshold"]:
            return by_rules
        by_llm = await self.classify_with_llm(question)
        return by_llm if by_llm.confidence > by_rules.confidence else by_rules

    def classify_with_rules(self, question: str) -> Classification:
        w = self.weights
        text = current_question(question).lower()

        non_business = [
            k for words in self.words["non_business_keywords"].values() for k in _hits(text, words)
        ]
        if non_business:
            return Classification(
                "CHAT",
                w["non_business_confidence"],
                f"包含非业务实体词: {non_business}",
                "rule_based_non_business",
            )

        business, business_hits, sql_hits = self._business_score(text)
        intent_hits = _hits(text, self.words["query_intent_keywords"])
        intent = w["query_intent"] * len(intent_hits)
        chat_hits = _hits(text, self.words["chat_keywords"])
        chat = w["chat_keyword"] * len(chat_hits)

        if business >= w["strong_business_min_score"] and intent >= w["strong_business_min_intent"]:
            return Classification(
                "DATABASE",
                round(min(w["max_confidence"], 0.8 + (business + intent) * 0.05), 2),
                f"强业务特征 - 业务实体: {business_hits}, 查询意图: {intent_hits}, SQL: {sql_hits}",
                "rule_based_strong_business",
            )
        if business >= w["medium_business_min_score"]:
            return Classification(
                "DATABASE",
                round(min(w["max_confidence"], 0.7 + business * 0.03), 2),
                f"中等业务特征 - 业务实体: {business_hits}",
                "rule_based_medium_business",
            )
        if chat >= 1 and business == 0:
            return Classification(
                "CHAT",
                round(min(w["max_confidence"], 0.4 + chat * 0.08), 2),
                f"聊天特征: {chat_hits}",
                "rule_based_chat",
            )
        return Classification(
            "UNCERTAIN",
            w["uncertain_confidence"],
            f"规则分类不确定 - 业务分:{business}, 意图分:{intent}, 聊天分:{chat}",
            "rule_based_uncertain",
        )

    def _business_score(self, text: str) -> tuple[float, list[str], list[str]]:
        """Score of business entities and SQL-like phrasing, with the entity and SQL hits;
        a system indicator word adds a bonus beside entities, a point on its own."""
        w = self.weights
        business_hits: list[str] = []
        indicator_hits: list[str] = []
        for category, words in self.words["strong_business_keywords"].items():
            found = _hits(text, words)
            if category == _INDICATOR_CATEGORY:
                indicator_hits += found
            else:
                business_hits += [f"{category}:{k}" for k in found]
        sql_hits = [p.pattern for p in self.sql_patterns if p.search(text)]
        business = w["business_entity"] * len(business_hits) + w["sql_pattern"] * len(sql_hits)
        indicator = w["system_indicator"] * len(indicator_hits)
        if indicator and business:
            business += w["combination_bonus"]
        elif indicator:
            business += 1
        return business, business_hits, sql_hits

    async def classify_with_llm(self, question: str) -> Classification:
        """Ask the LLM. LLM service errors propagate (the request answers 503/504)."""
        if self.llm is None:
            return Classification(
                "CHAT", self.weights["llm_error_confidence"], "LLM未配置", "llm_context_error"
            )
        texts = prompt("classification")
        messages = [
            SystemMessage(texts["system"]),
            HumanMessage(texts["user"].format(question=question, scope=_scope_text())),
        ]
        reply = strip_thinking(await complete(self.llm, messages))
        return self.parse_llm_reply(reply)

    def parse_llm_reply(self, reply: str) -> Classification:
        question_type, reason = "CHAT", "LLM响应解析失败"
        confidence = self.weights["llm_fallback_confidence"]
        for raw in reply.splitlines():
            # Full-width colons are common in Chinese replies; accept both.
            line = raw.strip().replace("：", ":")
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip()
            if key in ("分类", "classification"):
                upper = value.upper()
                if "DATABASE" in upper:
                    question_type = "DATABASE"
                elif "CHAT" in upper:
                    question_type = "CHAT"
            elif key in ("理由", "reason"):
                reason = value
            elif key in ("置信度", "confidence"):
                try:
                    confidence = min(1.0, max(0.0, float(value.strip("[]"))))
                except ValueError:
                    confidence = self.weights["llm_fallback_confidence"]
        return Classification(question_type, confidence, reason, "enhanced_llm")
