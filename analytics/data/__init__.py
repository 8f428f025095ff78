"""Data shipped with analytics: the curated referrer table and the referrer-spam list."""
