"""Forms (Flask-WTF: every one carries a CSRF token), and ``require_form``,
the check of every route that only accepts a good post."""

from flask import abort
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Regexp

from .models import ROLES

USERNAME = [InputRequired(), Length(3, 64),
            Regexp(r"^[A-Za-z0-9_.-]+$", message="letters, digits, '.', '_' and '-' only")]


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(1, 64)])
    password = PasswordField("Password", validators=[InputRequired(), Length(1, 200)])


class SignupForm(FlaskForm):
    username = StringField("Username", validators=USERNAME)
    password = PasswordField("Password", validators=[InputRequired(), Length(10, 200)])
    confirm = PasswordField("Repeat password",
                            validators=[InputRequired(), EqualTo("password", "passwords differ")])


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(1, 200)])
    password = PasswordField("New password", validators=[InputRequired(), Length(10, 200)])
    confirm = PasswordField("Repeat the new password",
                            validators=[InputRequired(), EqualTo("password", "passwords differ")])


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[Length(0, 64)])


class EmptyForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


EXPIRED = "The form expired or its CSRF token is missing; reload the page."


def require_form(form: FlaskForm | None = None) -> FlaskForm:
    """``form`` (default: an ``EmptyForm``), posted with a valid CSRF token and
    valid fields; otherwise a 400 that says what to do about it."""
    form = EmptyForm() if form is None else form
    if not form.validate_on_submit():
        fields = {name: errs for name, errs in form.errors.items() if name != "csrf_token"}
        abort(400, "; ".join(f"{name}: {' '.join(errs)}" for name, errs in fields.items())
              or EXPIRED)
    return form


class UserForm(FlaskForm):
    username = StringField("Username", validators=USERNAME)
    password = PasswordField("Password", validators=[InputRequired(), Length(10, 200)])
    role = SelectField("Role", choices=list(ROLES), default="candidate")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=list(ROLES))
