"""``Register``: register a model a run logged, under a new or existing name, with an alias.

The widget is a face of :class:`~jupyter_mltrack.models.registry_api.ModelRegistry`: the same
calls (and the same recorded history) as ``mlt.register_model`` and ``jupyter mltrack models``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from traitlets import Unicode

from ..entities import ModelVersion
from ..errors import MltrackError
from ..store.rules import check_alias
from ..tracking.client import MltrackClient
from ..validation import check_name
from . import data, static
from .base import StaticFallback

if TYPE_CHECKING:
    from ..models.registry_api import ModelRegistry


class Register(StaticFallback, widgets.VBox):
    """Register one of a run's logged models in the model registry.

    Parameters
    ----------
    run:
        The run (an id or a Run); by default the active run.
    name:
        The registered model name to offer (default: the chosen model's own name).
    alias:
        An alias to offer (default: none).
    client:
        The :class:`~jupyter_mltrack.MltrackClient` to go through (default: the fluent API's).

    Attributes
    ----------
    last_version:
        The version the last registration made (None before one).
    """

    message = Unicode("", help="The outcome of the last registration, or why there was none.")

    def __init__(
        self,
        run: Any = None,
        *,
        name: str | None = None,
        alias: str | None = None,
        client: MltrackClient | None = None,
    ):
        if name is not None:
            check_name(name, "registered model name")
        if alias is not None and alias != "":
            check_alias(alias)
        self._client = data.resolve_client(client)
        self._run = data.resolve_run(self._client, run)
        self.last_version: ModelVersion | None = None
        self._registry: ModelRegistry | None = None
        self._choices: list[tuple[str, str]] = []
        self._names: list[str] = []
        problem = ""
        try:
            self._registry = data.registry(self._client)
            self._choices = data.model_choices(self._client, self._run, self._registry)
            self._names = data.registered_names(self._registry)
        except MltrackError as exc:  # e.g. a store without a registry: say so in the widget
            problem = exc.message
        if not problem and not self._choices:
            problem = "this run has logged no models (log one with mlt.log_model)"

        run_label = self._run.info.run_name or self._run.info.run_id
        self._model_pick = widgets.Dropdown(
            options=self._choices,
            description="model",
            layout=widgets.Layout(width="36em"),
        )
        self._model_pick.add_class("mltrack-register-model")
        self._name_box = widgets.Combobox(
            options=self._names,
            value=name or self._default_name(),
            placeholder="a new or an existing model name",
            description="name",
            ensure_option=False,
            layout=widgets.Layout(width="36em"),
        )
        self._name_box.add_class("mltrack-register-name")
        self._alias_box = widgets.Text(
            value=alias or "",
            placeholder="optional, e.g. champion",
            description="alias",
            layout=widgets.Layout(width="36em"),
        )
        self._alias_box.add_class("mltrack-register-alias")
        self._button = widgets.Button(
            description="register", button_style="primary", disabled=bool(problem)
        )
        self._result = widgets.HTML(static.note(problem, error=True) if problem else "")
        super().__init__(
            children=[
                widgets.HTML(static.heading(f"Register a model of run {run_label}")),
                self._model_pick,
                self._name_box,
                self._alias_box,
                self._button,
                self._result,
            ]
        )
        self.add_class("mltrack-register")
        self.message = problem
        self._failed = bool(problem)
        self._button.on_click(lambda _b: self._on_click())
        self._model_pick.observe(self._on_model, names="value")

    # public API ----------------------------------------------------------------------------
    @property
    def models(self) -> list[tuple[str, str]]:
        """(label, model URI) of each model the run logged."""
        return list(self._choices)

    @property
    def registered_names(self) -> list[str]:
        """The registered model names offered in the name box."""
        return list(self._names)

    def register(
        self, model_uri: str | None = None, name: str | None = None, alias: str | None = None
    ) -> ModelVersion:
        """Register a model as a new version of ``name`` and point ``alias`` at it.

        Arguments left out are taken from the widget's fields (which the arguments also fill).
        """
        if self._registry is None:
            raise MltrackError(self.message or "no model registry")
        uri = model_uri if model_uri is not None else self._model_pick.value
        if not isinstance(uri, str) or not uri.strip():
            raise MltrackError("choose a model to register")
        model_name = check_name(name if name is not None else self._name_box.value.strip(),
                                "registered model name")  # fmt: skip
        alias_text = alias if alias is not None else self._alias_box.value.strip()
        if alias_text:
            check_alias(alias_text)  # before registering: no version left half-done
        version = self._registry.register_model(uri, model_name)
        if alias_text:
            self._registry.set_alias(model_name, alias_text, version.version)
            version = self._registry.get_model_version(model_name, version.version)
        self.last_version = version
        self._names = sorted({*self._names, model_name})
        self._name_box.options = self._names
        self._name_box.value, self._alias_box.value = model_name, alias_text
        at = f" with alias @{alias_text}" if alias_text else ""
        self._say(f"registered {model_name} version {version.version}{at} (from {uri})")
        return version

    def static_html(self) -> str:
        rows = [[label, uri] for label, uri in self._choices]
        parts = [
            static.table(
                ["model", "URI"],
                rows,
                caption=f"models of run {self._run.info.run_name or self._run.info.run_id}",
                css_class="mltrack-register-static",
            )
        ]
        if self.message:
            parts.append(static.note(self.message, error=self._failed))
        return static.section(*parts, css_class="mltrack-register")

    def __repr__(self) -> str:
        return f"Register(run={self._run.info.run_id!r}, models={len(self._choices)})"

    # reactions -----------------------------------------------------------------------------
    def _default_name(self) -> str:
        uri = self._model_pick.value if hasattr(self, "_model_pick") else None
        for label, choice in self._choices:
            if choice == uri or uri is None:
                return label.split(" (", 1)[0]
        return ""

    def _on_model(self, change: Any) -> None:
        # follow the model's name until the user has typed a name of their own
        names = {label.split(" (", 1)[0] for label, _ in self._choices}
        if not self._name_box.value or self._name_box.value in names:
            self._name_box.value = self._default_name()

    def _on_click(self) -> None:
        try:
            self.register()
        except MltrackError as exc:
            self._say(exc.message, error=True)

    def _say(self, text: str, error: bool = False) -> None:
        self.message, self._failed = text, error
        self._result.value = static.note(text, error=error)
