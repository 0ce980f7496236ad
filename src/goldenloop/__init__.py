"""goldenloop: LLM monitoring and human-review workbench.

The library owns the data (a DuckDB store), ingestion, metrics and review logic;
the Streamlit pages under ``app/`` only draw what it returns.
"""

__version__ = "0.1.0"
