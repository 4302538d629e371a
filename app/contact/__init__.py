"""The contact form and support threads (customers, visitors by signed link, staff inbox)."""
