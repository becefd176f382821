"""Paper C: cervix type classification (Kaggle Intel & MobileODT)."""
