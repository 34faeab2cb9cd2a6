"""What a process builds from the settings and hands its parts, the web process's and the worker's alike: the one
HTTP client (http_client.py; which provider each call went to: provider_calls.py), the payment providers
(providers.py), the media storage (media.py) and the results-signing key (results_key.py)."""
