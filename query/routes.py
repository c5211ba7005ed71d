"""Every read-side route group, in one list the app factory mounts."""

from __future__ import annotations

from aiohttp import web

from spyglass.query.views import blobs, health, projects, self_metrics
from spyglass.query.views import comments as comment_views
from spyglass.query.views import datasets as dataset_views
from spyglass.query.views import experiments as experiment_views
from spyglass.query.views import media as media_views
from spyglass.query.views import metrics as metrics_views
from spyglass.query.views import models as model_views
from spyglass.query.views import observations as observation_views
from spyglass.query.views import prompts as prompt_views
from spyglass.query.views import score_configs as score_config_views
from spyglass.query.views import scores as score_views
from spyglass.query.views import sessions as session_views
from spyglass.query.views import traces as trace_views
from spyglass.query.views import ui as ui_views


def add_health_routes(app: web.Application) -> None:
    health.add_routes(app)
    self_metrics.add_routes(app)


def add_read_routes(app: web.Application) -> None:
    projects.add_routes(app)
    prompt_views.add_routes(app)
    dataset_views.add_routes(app)
    experiment_views.add_routes(app)
    blobs.add_routes(app)
    metrics_views.add_routes(app)
    model_views.add_routes(app)
    media_views.add_routes(app)
    trace_views.add_routes(app)
    observation_views.add_routes(app)
    session_views.add_routes(app)
    score_views.add_routes(app)
    score_config_views.add_routes(app)
    comment_views.add_routes(app)
    ui_views.add_routes(app)
