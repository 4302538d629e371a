"""The team blueprint: the views in app/team/routes/ register on it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("team", __name__)
