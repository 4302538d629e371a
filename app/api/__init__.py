"""The metered API gateway (/api/v1), its OpenAPI document and the API documentation page."""
