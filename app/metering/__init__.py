"""Metering API calls: key check, rate limit, credit charge and call log, below api, billing and
usage (it depends on their models only). ``services.py`` chooses the meter (``database_meter.py``
or ``redis_meter.py``); ``write.py`` is the one write path of calls; docs/architecture.md shows
how a call flows."""
