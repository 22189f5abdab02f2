"""REST benchmark: loom routes vs hand-written django-ninja vs a DRF ModelViewSet."""
