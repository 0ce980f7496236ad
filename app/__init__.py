"""goldenloop's Streamlit app, installed as the ``goldenloop_app`` package (the ``app/`` folder).

``streamlit_app.py`` is the entry (the navigation), ``host.py`` starts Streamlit inside
`goldenloop serve`, ``state.py`` is the one caching module and ``untrusted.py`` shows text from
data safely. Each feature has a folder holding its pages (each named after its URL, listed in
``streamlit_app.SECTIONS``) and their helpers; ``common/`` holds what several pages share.
Pages and helpers import each other by package (``from goldenloop_app.review import
grading``), never through the script's folder on sys.path.
"""
