"""The ETL conformance model (every mapped field type) and the porting check's order tables."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0003_etl_history_audit"),
    ]

    operations = [
        migrations.CreateModel(
            name="FieldZoo",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("small", models.SmallIntegerField()),
                ("integer", models.IntegerField()),
                ("big", models.BigIntegerField()),
                ("psmall", models.PositiveSmallIntegerField()),
                ("pint", models.PositiveIntegerField()),
                ("pbig", models.PositiveBigIntegerField()),
                ("ratio", models.FloatField()),
                ("price", models.DecimalField(decimal_places=4, max_digits=20)),
                ("name", models.CharField(max_length=40)),
                ("body", models.TextField()),
                ("slug", models.SlugField()),
                ("email", models.EmailField(max_length=254)),
                ("url", models.URLField()),
                ("ip", models.GenericIPAddressField()),
                ("flag", models.BooleanField()),
                ("day", models.DateField()),
                ("at", models.DateTimeField()),
                ("clock", models.TimeField()),
                ("span", models.DurationField()),
                ("code", models.UUIDField()),
                ("blob", models.BinaryField()),
                ("data", models.JSONField()),
                (
                    "publisher",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="testapp.publisher",
                    ),
                ),
            ],
            options={
                "db_table": "etl_field_zoo",
            },
        ),
        migrations.CreateModel(
            name="RawOrder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount", models.FloatField()),
                ("run_date", models.DateField()),
            ],
            options={
                "db_table": "etl_raw_orders",
            },
        ),
        migrations.CreateModel(
            name="StagingOrder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount", models.FloatField()),
                ("run_date", models.DateField()),
            ],
            options={
                "db_table": "etl_staging_orders",
            },
        ),
    ]
