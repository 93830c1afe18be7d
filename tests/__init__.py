"""sweeptui tests: real sweep directories, real readers, detectors, analysis and app."""
