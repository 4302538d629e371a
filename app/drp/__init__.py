"""The Data Rights Protocol (v0.9.4, Consumer Reports): authorized agents file, follow and revoke
rights requests on a person's behalf, mapped onto our rights requests."""
