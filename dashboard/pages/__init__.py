"""The dashboard's pages, one package each."""
