"""The JSON shapes of the knowledge-base API's request bodies, for its OpenAPI document."""

from __future__ import annotations

from typing import Any

from knowledge_base.web.bulk import ACTIONS, MAX_BULK, MAX_CATEGORY_CHARS

SCHEMAS: dict[str, Any] = {
    "Entry": {
        "type": "object",
        "required": ["id", "question", "answer"],
        "properties": {
            "id": {"type": "string", "maxLength": 80},
            "locale": {"type": "string", "enum": ["zh-CN", "en"]},
            "category": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "question": {"type": "string", "maxLength": 500},
            "alternatives": {"type": "array", "items": {"type": "string"}},
            "answer": {"type": "string", "maxLength": 5000},
            "channel_answers": {"type": "object", "additionalProperties": {"type": "string"}},
            "buttons": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "payload": {"type": "string"}},
                },
            },
            "image_url": {"type": "string"},
            "enabled": {"type": "boolean"},
            "valid_from": {"type": "string", "format": "date-time"},
            "valid_until": {"type": "string", "format": "date-time"},
            "answer_threshold": {"type": "number"},
            "suggest_threshold": {"type": "number"},
        },
    },
    "Test": {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": {"type": "string"},
            "locale": {"type": "string"},
            "target": {"type": "string", "enum": ["draft", "live"]},
        },
    },
    "Publish": {
        "type": "object",
        "properties": {"message": {"type": "string"}, "force": {"type": "boolean"}},
    },
    "Rollback": {"type": "object", "required": ["version"], "properties": {"version": {"type": "integer"}}},
    "Golden": {
        "type": "object",
        "properties": {
            "golden": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": {"type": "string"},
                        "expected": {"type": "string"},
                        "locale": {"type": "string"},
                    },
                },
            }
        },
    },
    "Calibrate": {
        "type": "object",
        "properties": {
            "locale": {"type": "string"},
            "oos_recall_floor": {"type": "number"},
            "recall_weight": {"type": "number"},
            "precision_target": {"type": "number"},
        },
    },
    "Thresholds": {
        "type": "object",
        "required": ["answer", "suggest"],
        "properties": {"answer": {"type": "number"}, "suggest": {"type": "number"}},
    },
    "Synonyms": {
        "type": "object",
        "properties": {
            "synonyms": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            }
        },
    },
    "Dismiss": {"type": "object", "properties": {"key": {"type": "string"}}},
    "Bulk": {
        "type": "object",
        "required": ["action", "entries"],
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "entries": {
                "type": "array",
                "maxItems": MAX_BULK,
                "items": {
                    "type": "object",
                    "required": ["locale", "id"],
                    "properties": {"locale": {"type": "string"}, "id": {"type": "string"}},
                },
            },
            "category": {"type": "string", "maxLength": MAX_CATEGORY_CHARS},
        },
    },
}
