"""The built-in tools, one small module each. :func:`plait.tools.default_tools` registers them."""

from plait.tools.builtin.archives import ArchiveExtractTool, ArchiveListTool
from plait.tools.builtin.calculator import CalculatorTool
from plait.tools.builtin.csvstats import csv_tool
from plait.tools.builtin.dates import DateTimeTool
from plait.tools.builtin.diffs import diff_tool
from plait.tools.builtin.encoding import base64_tool
from plait.tools.builtin.files import FileListTool, FileReadTool, FileSearchTool, FileWriteTool
from plait.tools.builtin.hashing import hash_tool
from plait.tools.builtin.http_request import HttpRequestTool
from plait.tools.builtin.ids import uuid_tool
from plait.tools.builtin.jsonquery import json_query_tool
from plait.tools.builtin.processes import ProcessTool
from plait.tools.builtin.regexes import RegexTool
from plait.tools.builtin.templates import TemplateTool
from plait.tools.builtin.text import text_tool
from plait.tools.builtin.validation import validate_json_tool
from plait.tools.builtin.webpage import WebPageTool

__all__ = [
    "ArchiveExtractTool",
    "ArchiveListTool",
    "CalculatorTool",
    "DateTimeTool",
    "FileListTool",
    "FileReadTool",
    "FileSearchTool",
    "FileWriteTool",
    "HttpRequestTool",
    "ProcessTool",
    "RegexTool",
    "TemplateTool",
    "WebPageTool",
    "base64_tool",
    "csv_tool",
    "diff_tool",
    "hash_tool",
    "json_query_tool",
    "text_tool",
    "uuid_tool",
    "validate_json_tool",
]
