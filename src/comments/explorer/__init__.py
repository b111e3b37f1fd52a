"""The explorer: `comments serve`, a local web app to read, filter, search and label a docket's comments.

    snapshot.py  the private copy of the database it reads (works while a sync runs), label queue
    pages.py     what each page shows, from SQL over the copy
    app.py       the FastAPI app: routes, templates, security
    charts.py    inline SVG charts whose bars link to their comments
    server.py    uvicorn over the app, in the foreground or a thread

docs/explorer.md describes it for users.
"""
