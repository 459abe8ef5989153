"""The curriculum is stated once; the published schema must agree with it."""

from __future__ import annotations

import json

import jsonschema

from grader.curriculum import (CAPABILITIES, COMPETENCIES, CURRICULA, DIFFICULTIES, TRACKS,
                               domain_weight, slug)
from grader.task import SCHEMA_PATH


def test_weights_sum_to_100():
    for track in TRACKS.values():
        assert sum(track.domains.values()) == 100, track.id


def test_known_weights():
    assert domain_weight("cka", "Troubleshooting") == 30
    assert domain_weight("ckad", "Application Environment, Configuration and Security") == 25
    assert CURRICULA["ckad"]["Services and Networking"] == 20
    assert slug("Cluster Architecture, Installation and Configuration") == \
        "cluster-architecture-installation-and-configuration"


def test_schema_matches_curriculum():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["ckaDomain"]["enum"] == list(TRACKS["cka"].domains)
    assert schema["$defs"]["ckadDomain"]["enum"] == list(TRACKS["ckad"].domains)
    assert schema["properties"]["tracks"]["items"]["enum"] == list(TRACKS)
    assert schema["properties"]["requires"]["items"]["enum"] == list(CAPABILITIES)
    assert schema["properties"]["difficulty"]["enum"] == list(DIFFICULTIES)
    assert schema["$defs"]["competency"]["enum"] == list(COMPETENCIES)
