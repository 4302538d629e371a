"""Cookie consent: the cookie registry, the banner, the settings page, proof of consent,
Global Privacy Control, and first-party page analytics that run only with consent."""
