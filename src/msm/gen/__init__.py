"""What the generation stages (docgen, aftgen) share: the stage's generator and judge,
lists generated in rounds, and the prompt templates shipped as package data."""
