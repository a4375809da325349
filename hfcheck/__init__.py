"""hfcheck: prove an encrypted media backup on the Hugging Face Hub is complete, and repair it."""

__version__ = "0.1.0"
