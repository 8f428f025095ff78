"""ASGI apps that the fault, load and hostile-input tests serve with uvicorn or call directly."""
