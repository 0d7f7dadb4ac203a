"""Read `template.yaml`: its routes, its functions, and its SAM-to-CloudFormation transform.

Everything that needs to know what the stack contains (the local gateway, the local
deploy, the contract tests, the OpenAPI check) reads it from here, so the template
stays the single source of truth.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
API_LOGICAL_ID = "MyApi"


@dataclass(frozen=True)
class Route:
    """One `Api` event of a function: what API Gateway would route to it."""

    method: str
    path: str
    function: str
    public: bool

    @property
    def pattern(self) -> re.Pattern[str]:
        """Regex matching concrete request paths; path parameters never span a `/`."""
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class FunctionSpec:
    """What the local runtime needs to run a function as Lambda would."""

    logical_id: str
    code_uri: str
    handler: str
    package_type: str
    timeout: int
    memory: int
    layers: tuple[str, ...]
    reserved_concurrency: int | None = None


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template, CloudFormation's short-form tags understood; a copy the caller may change."""
    stat = path.stat()
    return copy.deepcopy(_parse(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parse(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    # samtranslator parses with PyYAML's pure-Python loader (~0.6 s for this template), and the
    # template is read by the deploy, the runtime, the OpenAPI build and many tests: parse each
    # version of the file once. mtime and size are in the key so an edited template is read again.
    parsed: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return parsed


def functions(template: dict[str, Any]) -> dict[str, FunctionSpec]:
    """Every `AWS::Serverless::Function`, with the Globals applied that matter locally."""
    glob = template.get("Globals", {}).get("Function", {})
    layer_dirs = {
        lid: str(res["Properties"]["ContentUri"])
        for lid, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    specs: dict[str, FunctionSpec] = {}
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        package_type = props.get("PackageType", "Zip")
        if package_type == "Image":
            # An image has no CodeUri/Handler in the template; Metadata says where its code is.
            meta = res.get("Metadata", {})
            code_uri, handler = meta["LocalCodeUri"], meta["LocalHandler"]
        else:
            code_uri, handler = props["CodeUri"], props["Handler"]
        layers = tuple(
            layer_dirs[ref["Ref"]]
            for ref in props.get("Layers", [])
            if isinstance(ref, dict) and ref.get("Ref") in layer_dirs
        )
        if package_type == "Image":
            # An image carries its shared code inside; Metadata.LocalLayers names the layer folders it copies.
            meta_layers = res.get("Metadata", {}).get("LocalLayers", [])
            layers = tuple(layer_dirs[name] for name in meta_layers if name in layer_dirs)
        specs[lid] = FunctionSpec(
            logical_id=lid,
            code_uri=str(code_uri),
            handler=str(handler),
            package_type=package_type,
            timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
            memory=int(props.get("MemorySize", glob.get("MemorySize", 128))),
            layers=layers,
            reserved_concurrency=_reserved_concurrency(props.get("ReservedConcurrentExecutions")),
        )
    return specs


def _reserved_concurrency(value: Any) -> int | None:
    """A literal reservation; an intrinsic (GeneratorReservedConcurrency's `!If`) is unset by default."""
    if isinstance(value, int | str) and str(value).isdigit():
        return int(value)
    return None


def routes(template: dict[str, Any]) -> list[Route]:
    """Every `Api` event on MyApi, in template order."""
    found: list[Route] = []
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event in res["Properties"].get("Events", {}).values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            auth = props.get("Auth", {})
            found.append(
                Route(
                    method=str(props["Method"]).upper(),
                    path=str(props["Path"]),
                    function=lid,
                    public=auth.get("Authorizer") == "NONE",
                )
            )
    return found


_TRANSFORMS: dict[str, dict[str, Any]] = {}
_TRANSFORM_LOCK = threading.Lock()


def transform_template(
    template: dict[str, Any], region: str, parameter_values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run the SAM transform offline, as CloudFormation would at deploy time; a copy the caller may change."""
    # The transform is a pure function of its input and takes ~0.2 s; the unit tests deploy the
    # same template dozens of times: transform each distinct input once.
    key = json.dumps([template, region, parameter_values or {}], sort_keys=True, default=repr)
    with _TRANSFORM_LOCK:
        cached = _TRANSFORMS.get(key)
    if cached is None:
        # A session only for its region: the translator reads no credentials unless the
        # template names an AWS managed policy by bare name, which ours never does.
        translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
        cached = translator.translate(
            copy.deepcopy(template),
            parameter_values=dict(parameter_values or {}),
            get_managed_policy_map=dict,
        )
        with _TRANSFORM_LOCK:
            if len(_TRANSFORMS) >= 8:
                _TRANSFORMS.clear()
            _TRANSFORMS[key] = cached
    result: dict[str, Any] = copy.deepcopy(cached)
    return result
