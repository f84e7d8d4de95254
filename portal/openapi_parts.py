"""Pieces every part of the OpenAPI document uses (portal/api.py puts the document together)."""

STR = {"type": "string"}
NULL_STR = {"type": ["string", "null"]}
NULL_INT = {"type": ["integer", "null"]}
ERROR_RESPONSE = {"description": "the error, in the user's language",
                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
REFUSED = {"401": ERROR_RESPONSE, "403": ERROR_RESPONSE}
CSRF_NOTE = ("Changes (POST, PUT, PATCH, DELETE) need the header X-CSRF-Token with the csrf_token of GET "
             "/api/session, sent with the cookies that call set.")


def ok(description: str, schema: dict) -> dict:
    """A 200 response with a JSON body of `schema`."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}
