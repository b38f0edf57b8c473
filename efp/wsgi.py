import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "efp.settings")
application = get_wsgi_application()

# Everything loaded by now (Django, our code, the URL conf and the views it imports) lives as long as the
# process: `gc.freeze()` takes it out of the garbage collector's sight, so the full collections that a
# page of thousands of model instances sets off no longer walk it (p95 of a page of 50 resources
# 118 -> 71 ms in `make bench`, memory unchanged; docs/performance.md).
get_resolver().url_patterns  # noqa: B018 - imports every view now rather than on the first request
gc.collect()
gc.freeze()
