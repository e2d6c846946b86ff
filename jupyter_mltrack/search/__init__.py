"""Parsing of MLflow-style search filters and order-by clauses."""
