"""Organisations: administrative divisions (行政区划) and departments (部门), used by every other app."""
