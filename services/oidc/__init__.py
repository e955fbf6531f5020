"""Single sign-on through the district's OpenID Connect provider (统一身份认证)."""
