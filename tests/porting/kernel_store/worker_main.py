from loom.celery.auto import create_app

celery_app = create_app("config/worker.yaml")
