from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .forms import SuspensionAwareLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registry/login.html",
            redirect_authenticated_user=True,
            authentication_form=SuspensionAwareLoginForm,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/become-artist/", views.become_artist, name="become_artist"),
    path("upload/", views.upload, name="upload"),
    path("works/", views.works, name="works"),
    path("works/fragment/", views.works_fragment, name="works_fragment"),
    path("works/hashes/", views.register_hashes, name="register_hashes"),
    path("works/<int:work_id>/", views.work_detail, name="work_detail"),
    path("works/<int:work_id>/withdraw/", views.work_withdraw, name="work_withdraw"),
    path("claims/", views.claims, name="claims"),
    path(
        "claims/<int:claim_id>/withdraw/",
        views.claim_withdraw,
        name="claim_withdraw",
    ),
    path("account/", views.account, name="account"),
    path("account/tokens/", views.token_create, name="token_create"),
    path(
        "account/tokens/<int:token_id>/revoke/",
        views.token_revoke,
        name="token_revoke",
    ),
    path("", include("registry.urls_trust")),
]
