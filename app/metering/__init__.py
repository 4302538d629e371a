"""Metering API calls: key check, rate limit, credit charge and call log, below api, billing and
usage (it depends on their models only). See ``meter.py`` for the two meters and how to choose."""
