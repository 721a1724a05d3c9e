
urlpatterns: list = []  # filled by the API work
