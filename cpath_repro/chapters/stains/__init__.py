"""The stain library (Foundations): paper A's nine assays by Beer-Lambert (``library``), and its notebook."""
