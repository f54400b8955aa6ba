"""The two configurations every installation starts with: the real model and its simulated stand-in."""

from django.db import migrations

FOLLOW_UPS = ["Write a structured report"]
PROMPT = "Find abnormalities and support devices."


def add_defaults(apps, schema_editor):
    ModelConfiguration = apps.get_model("inference", "ModelConfiguration")
    ModelConfiguration.objects.get_or_create(
        name="NV-Reason-CXR-3B",
        defaults={"engine": "transformers", "model_id": "nvidia/NV-Reason-CXR-3B", "prompt": PROMPT,
                  "follow_up_prompts": FOLLOW_UPS, "generation": {"max_new_tokens": 2048}},
    )
    ModelConfiguration.objects.get_or_create(
        name="Simulated NV-Reason-CXR",
        defaults={"engine": "simulated", "model_id": "simulated/nv-reason-cxr", "revision": "sim-1",
                  "prompt": PROMPT, "follow_up_prompts": FOLLOW_UPS, "generation": {"max_new_tokens": 2048},
                  "options": {"error_rate": 0.25, "seed": 0}},
    )


class Migration(migrations.Migration):
    dependencies = [("inference", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
