"""Training files: validation (type, size, extension, encoding, content) and parsing into items,
in memory. Messages are the old service's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from citu import inputs
from citu.training.models import InvalidTrainingData, TrainingItem, question_sql_item

FILE_TYPES = ("ddl", "markdown", "sql_pair_json", "sql_pair", "sql")
ALLOWED_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "ddl": ("ddl", "sql", "txt", ""),
    "markdown": ("md", "markdown"),
    "sql_pair_json": ("json", "txt", ""),
    "sql_pair": ("sql", "txt", ""),
    "sql": ("sql", "txt", ""),
}
_BOM = "\ufeff"


class UploadRejected(Exception):
    """The file cannot be trained; ``text`` is the message for the client."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class ParsedUpload:
    filename: str
    entries: list[TrainingItem | str]  # a str is an item that failed validation


def display_name(filename: str) -> str:
    """The file's own name: directories dropped, non-ASCII kept (the old secure_filename
    dropped it, so ``训练.md`` lost its extension)."""
    name = PurePath(filename.replace("\\", "/")).name
    return "".join(ch for ch in name if ch.isprintable()).strip() or "upload"


def extension(filename: str) -> str:
    suffix = PurePath(display_name(filename)).suffix
    return suffix[1:].lower() if suffix else ""


def check_file(file_type: str, filename: str, size: int, max_bytes: int) -> None:
    if file_type not in FILE_TYPES:
        raise UploadRejected(f"不支持的文件类型：{file_type}，支持的类型：{', '.join(FILE_TYPES)}")
    if size > max_bytes:
        raise UploadRejected(f"文件大小不能超过{max_bytes // 1024}KB")
    allowed = ALLOWED_EXTENSIONS[file_type]
    ext = extension(filename)
    if ext not in allowed:
        listed = ", ".join(e for e in allowed if e)
        if "" in allowed:
            listed += " 或无扩展名"
        raise UploadRejected(
            f"文件类型 {file_type} 不支持的文件扩展名：{ext}，支持的扩展名：{listed}"
        )


def decode(content: bytes) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UploadRejected(
            f"文件编码错误：必须是UTF-8编码（第 {error.start} 字节无法解码）"
        ) from None
    text = text.removeprefix(_BOM)
    if "\x00" in text:
        raise UploadRejected("文件内容不是文本：包含NUL字符")
    return text


def split_statements(text: str) -> list[str]:
    """Split SQL text on ``;`` outside quotes, comments and dollar-quoted bodies; the ``;`` is
    dropped and empty pieces skipped (as the old splitter did, minus its quote blindness)."""
    pieces, start, i, n = [], 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in ("'", '"'):
            end = text.find(ch, i + 1)
            while end != -1 and end + 1 < n and text[end + 1] == ch:  # doubled quote
                end = text.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        elif ch == "$" and (match := re.match(r"\$[A-Za-z_]*\$", text[i:])):
            tag = match.group(0)
            end = text.find(tag, i + len(tag))
            i = n if end == -1 else end + len(tag)
        elif ch == ";":
            pieces.append(text[start:i])
            i += 1
            start = i
        else:
            i += 1
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def markdown_sections(text: str) -> list[str]:
    """Cut before every line starting with #, ## or ### followed by a non-# character."""
    sections: list[list[str]] = [[]]
    for line in text.splitlines():
        if re.match(r"#{1,3}[^#]", line) and any(s.strip() for s in sections[-1]):
            sections.append([])
        sections[-1].append(line)
    return [joined for s in sections if (joined := "\n".join(s).strip())]


def _pair(question: str, sql: str) -> TrainingItem | str:
    try:
        return question_sql_item(question, sql)
    except InvalidTrainingData as error:
        return str(error)


def _json_pairs(text: str) -> Iterator[TrainingItem | str]:
    try:
        data = inputs.loads(text)
    except ValueError:
        raise UploadRejected("文件内容不符合JSON问答对格式，JSON格式错误") from None
    if not isinstance(data, list) or not data:
        raise UploadRejected("文件内容不符合JSON问答对格式，必须是非空数组")
    for entry in data:
        if not isinstance(entry, dict):
            raise UploadRejected("文件内容不符合JSON问答对格式，数组元素必须是对象")
        keys = {str(k).lower() for k in entry}
        if not {"question", "sql"} <= keys:
            raise UploadRejected("文件内容不符合JSON问答对格式，必须包含question和sql字段")
    for entry in data:
        fields = {str(k).lower(): v for k, v in entry.items()}  # the last casing wins
        question = str(fields["question"] or "").strip()
        sql = str(fields["sql"] or "").strip()
        if question and sql:
            yield _pair(question, sql)


def _text_pairs(text: str) -> Iterator[TrainingItem | str]:
    if not re.search(r"\bQuestion\s*:", text, re.IGNORECASE):
        raise UploadRejected("文件内容不符合问答对格式，必须包含Question:")
    if not re.search(r"\bSQL\s*:", text, re.IGNORECASE):
        raise UploadRejected("文件内容不符合问答对格式，必须包含SQL:")
    blocks = re.split(r"\n\s*\n(?=\s*question\s*:)", text, flags=re.IGNORECASE)
    pattern = re.compile(
        r"question\s*:(?P<q>.*?)\bsql\s*:(?P<sql>.*?)(?=\bquestion\s*:|\Z)",
        re.IGNORECASE | re.DOTALL,
    )
    for block in blocks:
        for match in pattern.finditer(block):
            question, sql = match["q"].strip(), match["sql"].strip()
            if question and sql:
                yield _pair(question, sql)


def _sql_examples(text: str) -> Iterator[TrainingItem | str]:
    if ";" not in text:
        raise UploadRejected("文件内容不符合SQL格式，必须包含;分隔符")
    for statement in split_statements(text):
        yield _pair("", statement)


def parse(file_type: str, text: str) -> list[TrainingItem | str]:
    """The items of a file; a ``sql`` file's items still need their questions generated."""
    if file_type == "ddl":
        if not re.search(r"create", text, re.IGNORECASE):
            raise UploadRejected("文件内容不符合DDL格式，必须包含CREATE语句")
        return [TrainingItem("ddl", s) for s in split_statements(text)]
    if file_type == "markdown":
        if "##" not in text:
            raise UploadRejected("文件内容不符合Markdown格式，必须包含##标题")
        return [TrainingItem("documentation", s) for s in markdown_sections(text)]
    if file_type == "sql_pair_json":
        return list(_json_pairs(text))
    if file_type == "sql_pair":
        return list(_text_pairs(text))
    return list(_sql_examples(text))


def parse_upload(file_type: str, filename: str, content: bytes, max_bytes: int) -> ParsedUpload:
    check_file(file_type, filename, len(content), max_bytes)
    entries = parse(file_type, decode(content))
    if not entries:
        raise UploadRejected("文件中没有可训练的内容")
    return ParsedUpload(display_name(filename), entries)
