"""The source picker every page shares: a kind (torchvision, timm, Hugging Face, an uploaded
config.json, an uploaded ONNX file, the Builder's stack), then a name; the input it takes (a
resolution, or a sequence length for a text model); and the link parameters that keep the choice.

Each page gives a ``prefix`` for its widget keys ("model", "latency", ...), so two pages keep
their own choices. Listing timm's or transformers' names reads calc.disk_cache, and is done
only once that kind is chosen: a page on torchvision imports neither library. The uploaded
config.json and the uploaded ONNX file are one each per session (every page's picker shows
them), as the Builder's stack is; an ONNX file never travels in a link (ui.onnx_upload).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from calc import hf_models, timm_models, zoo
from calc.errors import SpecError
from calc.share import MAX_LINK_CHARS, decode_stack, encode_stack
from calc.sources import DEFAULT_SEQ_LEN, Source, Takes
from calc.spec import stack_to_json
from ui import links, stack_state, widget_defaults
from ui.config_upload import CONFIG_KEY, config_choice, config_param
from ui.counts import zoo_names
from ui.onnx_upload import NOT_IN_LINK, ONNX_KEY, ONNX_PARAMS_NOTE, onnx_choice
from ui.onnx_upload import described as describe_onnx
from ui.source_text import (
    BUILDER,
    BUILDER_TEXT,
    CONFIG,
    CONFIG_TEXT,
    HF,
    KIND_LABELS,
    ONNX,
    ONNX_TEXT,
    OWN_TEXTS,
    PICKER_KINDS,
    TIMM,
    TORCHVISION,
    canonical_json,
    hf_model_types,
    picker_kind,
    resolve_name,
    source_of,
)
from ui.text import plain

DEFAULT_NAMES = {TIMM: "timm:resnet50", HF: "GPT-2"}
ONNX_RESOLUTION = 224  # where an ONNX image model leaves its size open, the box's first value
SEQ_LEN = links.Whole(1, 131_072, 64)  # tokens; a model's own position limit is checked by the count


@dataclass(frozen=True)
class Picked:
    """A picked source: its text (what a link's ``model=`` says), the Source, the JSON of an
    uploaded config or of the Builder's stack, and its name as shown."""

    text: str
    source: Source
    payload: str | None
    label: str

    @property
    def kind(self) -> str:
        return picker_kind(self.source, self.text)


# ---------------------------------------------------------------------------
# names and labels, read once per server


@st.cache_data(show_spinner=False)
def timm_labels() -> dict[str, str]:
    """``timm:NAME`` -> "family · NAME", so that typing in the box finds a family too."""
    return {
        "timm:" + name: f"{timm_models.model_info(name).family} · {name}" for name in timm_models.list_names()
    }


@st.cache_data(show_spinner=False)
def hf_labels() -> dict[str, str]:
    """The curated checkpoints by their usual names first, then every architecture at its defaults."""
    checkpoints = {name: f"{name} · {entry.model_type}" for name, entry in hf_models.CHECKPOINTS.items()}
    return checkpoints | {name: f"{name} · its defaults" for name in hf_model_types()}


def zoo_label(name: str) -> str:
    info = zoo.model_info(name)
    return f"{info.family} · {name}" if info.source == "torchvision" else name


# ---------------------------------------------------------------------------
# the picker


def pick(
    prefix: str,
    zoo_key: str,
    zoo_options: Callable[[], Sequence[str]] = zoo_names,
    kinds: Sequence[str] = PICKER_KINDS,
) -> Picked | None:
    """Draw the kind and name widgets; the Picked source, or None (said on screen) when the
    kind has nothing to count yet or what it holds is refused. ``zoo_key`` is the torchvision
    box's key (pages kept theirs), ``zoo_options`` its names."""
    kind_key = f"{prefix}_kind"
    if st.session_state.get(kind_key) not in kinds:
        st.session_state[kind_key] = kinds[0]
    kind = st.radio(
        "Source",
        kinds,
        index=widget_defaults.index(kind_key, kinds),
        key=kind_key,
        format_func=KIND_LABELS.get,
        horizontal=True,
        help="timm and Hugging Face models are built without weights and counted on the meta device",
    )
    payload = None
    if kind == TORCHVISION:
        options = zoo_options()
        text = st.selectbox(
            "Model",
            options,
            index=widget_defaults.index(zoo_key, options),
            key=zoo_key,
            format_func=zoo_label,
            help="Type to search; grouped by family",
        )
        label = text
    elif kind in (TIMM, HF):
        with st.spinner(f"Reading {KIND_LABELS[kind]}'s names…"):
            labels = timm_labels() if kind == TIMM else hf_labels()
        key = f"{prefix}_{kind}"
        if st.session_state.get(key) not in labels:
            st.session_state[key] = DEFAULT_NAMES[kind]
        text = st.selectbox(
            f"{KIND_LABELS[kind]} model",
            list(labels),
            index=widget_defaults.index(key, labels),
            key=key,
            format_func=labels.get,
            help=f"Type to search {len(labels):,} names and families"
            if kind == TIMM
            else "Known checkpoints by their usual names, then every architecture transformers ships, at "
            "its config class's defaults",
        )
        label = text
    elif kind == CONFIG:
        text, payload, label = config_choice()
        if payload is None:
            st.info("Upload a config.json to count it.")
            return None
    elif kind == ONNX:
        text, payload, label = onnx_choice()
        if payload is None:
            st.info("Upload an .onnx file to count it.")
            return None
    else:
        stack_state.ensure_stack()
        stack = st.session_state[stack_state.STACK]
        text, payload, label = BUILDER_TEXT, canonical_json(stack), BUILDER_TEXT
        st.caption(
            f"The Layer Builder's stack: {len(stack['layers'])} layers on input "
            f"{'×'.join(map(str, stack['input']))}. Edit it on the Builder page."
        )
    try:
        source = source_of(text, payload)
    except SpecError as error:
        where = "Fix it on the Layer Builder page." if kind == BUILDER else "Pick another."
        st.error(plain(f"{label} cannot be counted: {error}. {where}"), icon=":material/error:")
        return None
    return Picked(text, source, payload, label)


# ---------------------------------------------------------------------------
# the input: a resolution for an image, a sequence length for tokens


def native_seq_len(source: Source) -> int:
    """The default sequence length, within the positions a known config has (CLIP's text: 77); an
    ONNX graph's own where it fixes one."""
    if source.kind == ONNX:
        return source.default_input[0]
    config = source.config
    if config is None and source.target in hf_models.CHECKPOINTS:
        config = hf_models.CHECKPOINTS[source.target].config
    limits = []
    for part in (config or {}, (config or {}).get("text_config") or {}):
        limits += [
            part[name] for name in ("n_positions", "max_position_embeddings") if type(part.get(name)) is int
        ]
    return min([DEFAULT_SEQ_LEN, *limits[-1:]])


@dataclass(frozen=True)
class Inputs:
    resolution: int | None  # an image's side, None when the source is not resized
    seq_len: int | None  # a text model's tokens

    def describe(self, source: Source) -> str:
        if self.seq_len is not None:
            return f"{self.seq_len} tokens"
        shape = source.input_shape(self.resolution)
        return f"{shape[-1]}×{shape[-2]}" if len(shape) == 3 else "×".join(map(str, shape))


def _image_facts(picked: Picked) -> tuple[bool, bool, str]:
    """(resized by a resolution, built for one size only, the resolution box's help)."""
    source = picked.source
    native = source.default_input[-1]
    if picked.kind == TORCHVISION:
        info = zoo.model_info(source.target)
        accepts = f"; {source.target} accepts {info.resolutions.describe()}" if info.resolutions else ""
        return (
            info.takes_images,
            info.fixed_resolution,
            f"Native: {native} (the default weights' crop size){accepts}",
        )
    if picked.kind == TIMM:
        fixed = bool(source.metadata.get("fixed_input_size"))
        return (
            True,
            fixed,
            f"Native: {native} (its pretrained config's input size)"
            + ("; its config says the size is fixed" if fixed else ""),
        )
    if picked.kind == ONNX and source.takes is Takes.IMAGE:
        if native:  # fixed in the graph: counted at its own size (height and width may differ)
            return False, True, "Fixed in the ONNX graph: " + "×".join(map(str, source.default_input))
        return True, False, "The ONNX graph leaves the image size open: counted at this resolution"
    return False, True, "This source has the input it was written for"


def input_widgets(prefix: str, picked: Picked, resolution_key: str, seq_key: str | None = None) -> Inputs:
    """The resolution box (or the sequence-length box, for tokens), set to the source's native
    input when the source changes; a one-size model is held at its size."""
    source = picked.source
    picked_key = f"{prefix}_picked"
    changed = st.session_state.get(picked_key) != picked.text
    st.session_state[picked_key] = picked.text
    seq_key = seq_key or f"{prefix}_seq_len"
    if source.takes is Takes.TOKENS:
        if changed or seq_key not in st.session_state:
            st.session_state[seq_key] = native_seq_len(source)
        seq_len = st.number_input(
            "Sequence length (tokens)",
            **SEQ_LEN.widget(seq_key),
            help=f"Token ids per sequence (default {DEFAULT_SEQ_LEN}, or fewer if the model has fewer "
            "positions); a vision model takes images of its config's size",
        )
        return Inputs(None, int(seq_len))
    if picked.kind == BUILDER:  # the stack's own input, said under the picker: no box to change it here
        return Inputs(None, None)
    image, fixed, help_text = _image_facts(picked)
    native = source.default_input[-1] or ONNX_RESOLUTION  # 0: an ONNX graph's open size
    if changed or fixed or resolution_key not in st.session_state:
        st.session_state[resolution_key] = native
    resolution = st.number_input(
        "Resolution (pixels)",
        **links.RESOLUTION.widget(resolution_key),
        disabled=not image or fixed,
        help=help_text,
    )
    return Inputs(int(resolution) if image else None, None)


# ---------------------------------------------------------------------------
# links: model= (the text), config= and stack= (their contents), seq=


def _read_text(text: str) -> str:
    if text == CONFIG_TEXT and CONFIG_KEY not in st.session_state:
        raise ValueError(
            "needs the config.json's contents (config=), which this link lacks or could not give"
        )
    if text in OWN_TEXTS:
        return text
    return resolve_name(text).name if text not in hf_models.CHECKPOINTS else text


def _text_reader(prefix: str) -> Callable[[str], str]:
    """``_read_text``; a link naming an uploaded ONNX file the session lacks opens the uploader and
    says that the file must be uploaded (a link cannot carry it)."""

    def read(text: str) -> str:
        if text == ONNX_TEXT and ONNX_KEY not in st.session_state:
            st.session_state[f"{prefix}_kind"] = ONNX
            raise ValueError(NOT_IN_LINK)
        return _read_text(text)

    return read


def _apply_text(prefix: str, zoo_key: str) -> Callable[[str], None]:
    def apply(text: str) -> None:
        kind = OWN_TEXTS.get(text)
        if kind is None:
            kind = picker_kind(resolve_name(text), text)
        st.session_state[f"{prefix}_kind"] = kind
        st.session_state[{TORCHVISION: zoo_key}.get(kind, f"{prefix}_{kind}")] = text
        st.session_state[f"{prefix}_picked"] = text  # the link's resolution stays

    return apply


def resized(text: str) -> bool:
    """Whether a source's input is an image a resolution sets (a resolution sweep applies)."""
    if text in OWN_TEXTS:
        return False
    try:
        return resolve_name(text).takes is Takes.IMAGE
    except SpecError:
        return False


def link_params(prefix: str, zoo_key: str, seq_key: str | None = None) -> list[links.Param]:
    """The picker's link parameters: ``model`` (its text; a bad one is named with the closest
    names), ``config`` and ``stack`` (an uploaded config's and the Builder stack's contents,
    compressed as calc.share does), ``seq``. Put them before the page's ``res``."""
    return [  # the contents first: model=config.json is refused without a config that could be read
        config_param(),
        links.Param(
            "stack",
            stack_state.STACK,
            decode_stack,
            encode_stack,
            apply=lambda stack: stack_state.replace_stack(stack_to_json(stack)),
            max_chars=MAX_LINK_CHARS,
        ),
        links.Param(
            "model", f"{prefix}_link_model", _text_reader(prefix), apply=_apply_text(prefix, zoo_key)
        ),
        links.integer("seq", seq_key or f"{prefix}_seq_len", SEQ_LEN),
    ]


def chosen_text(prefix: str, zoo_key: str, kinds: Sequence[str] = PICKER_KINDS) -> str | None:
    """The text the picker of ``prefix`` holds, read from the session without drawing it: for a
    link written before the picker is drawn further down the page."""
    kind = st.session_state.get(f"{prefix}_kind")
    kind = kind if kind in kinds else kinds[0]
    if kind == CONFIG:
        return CONFIG_TEXT if CONFIG_KEY in st.session_state else None
    if kind == ONNX:
        return ONNX_TEXT if ONNX_KEY in st.session_state else None
    if kind == BUILDER:
        return BUILDER_TEXT
    return st.session_state.get({TORCHVISION: zoo_key}.get(kind, f"{prefix}_{kind}"), DEFAULT_NAMES.get(kind))


def link_values(picked: Picked | str | None, inputs: Inputs | None = None) -> dict[str, Any]:
    """What the picker writes into the link now: the text, only the contents it needs, and no
    ``res`` for a source that takes no resolution."""
    if picked is None:
        return {"model": None, "config": None, "stack": None, "seq": None}
    text = picked if isinstance(picked, str) else picked.text
    resized = inputs is not None and inputs.resolution is not None
    return {
        **({} if resized else {"res": None}),
        "model": text,
        "config": st.session_state.get(CONFIG_KEY) if text == CONFIG_TEXT else None,
        "stack": st.session_state.get(stack_state.STACK) if text == BUILDER_TEXT else None,
        "seq": inputs.seq_len if inputs is not None else None,
    }


def shown_label(picked: Picked | None) -> str:
    """The picked source's name for a title or a caption (Markdown): an uploaded file's name is the
    user's text, shown as plain text."""
    if picked is None:
        return "none picked"
    return plain(picked.label) if picked.kind in (CONFIG, ONNX) else picked.label


def input_facts(picked: Picked) -> list[str]:
    """Facts about a source worth a caption: where a checkpoint's values come from."""
    metadata = picked.source.metadata
    facts = []
    if metadata.get("published_params"):
        facts.append(f"published size {metadata['published_params']} params")
    if metadata.get("config_source"):
        facts.append(f"config values from {metadata['config_source']}")
    if picked.kind == CONFIG:
        facts.append(f"your config.json, model_type {metadata.get('model_type')}")
    if picked.kind == ONNX:
        facts.append(plain(f"your ONNX file: {describe_onnx(picked.source)}"))
        facts.append(ONNX_PARAMS_NOTE)
    return facts


__all__ = [
    "Inputs",
    "Picked",
    "chosen_text",
    "input_facts",
    "input_widgets",
    "link_params",
    "link_values",
    "pick",
    "resized",
    "shown_label",
]
