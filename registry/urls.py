
urlpatterns: list = []  # filled by the pages work
