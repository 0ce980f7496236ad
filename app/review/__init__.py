"""The Grade and Queues pages (``grade.py``, ``queues.py``), with the grading screen
(``grading.py``), the queue panels, the Argilla panel and the grading keyboard script."""
