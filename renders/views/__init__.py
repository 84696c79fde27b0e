"""The renders app's pages, one module per page: the studio (a project's history and submit form, with its polls),
the render page and its actions, the project's activity feed, the user's settings. Stored files are served by
renders/assets.py and provider webhooks received by renders/webhooks.py."""
