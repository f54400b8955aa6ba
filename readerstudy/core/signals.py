"""What lower layers announce and a higher one acts on, so that no layer imports the one above it."""

from django.dispatch import Signal

# A study's reads, ground truth or status changed, so its analysis is out of date (argument: study_id). The
# analysis asks for a recomputation (readerstudy/analysis/schedule.py, connected in readerstudy/apps.py).
study_data_changed = Signal()
