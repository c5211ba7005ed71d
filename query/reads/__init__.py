"""Read-side building blocks shared by the public API views.

Views (``spyglass.query.views.*``) parse a request and render a response; everything that knows
SQL, the ClickHouse row layout or Langfuse's response shapes lives here, one module per job.
"""
