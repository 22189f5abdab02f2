"""``manage.py`` commands of loom_django."""
