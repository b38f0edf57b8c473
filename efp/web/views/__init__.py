"""GUI views, one module per topic. Each provider view: login, provider role (403), visible object (404),
input (400), service call (409 on a wrong state), render."""
