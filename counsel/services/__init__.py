"""The rules of counsel. Services take an explicit actor, raise domain errors and never flash."""
