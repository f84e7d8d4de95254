"""Portal texts of signing in and of access refused (key: (Chinese, English)); joined into portal.i18n."""

MESSAGES: dict[str, tuple[str, str]] = {
    "nav.login": ("登录", "Sign in"),
    "nav.logout": ("退出", "Sign out"),
    "nav.my_requests": ("我的申请", "My requests"),
    "nav.desk": ("馆员工作台", "Staff desk"),
    "nav.admin": ("中心管理", "Administration"),
    "nav.signed_in": ("{name}（{member}）", "{name} ({member})"),
    "role.reader": ("读者", "reader"),
    "role.staff": ("馆员", "staff"),
    "role.admin": ("中心管理员", "centre administrator"),
    "login.title": ("登录", "Sign in"),
    "login.user": ("读者证号或馆员账号", "Reader card number or staff login"),
    "login.password": ("密码", "Password"),
    "login.button": ("登录", "Sign in"),
    "login.hint": ("读者请用本馆读者证号登录；账号由所在成员馆的馆际互借馆员开通。",
                   "Readers sign in with their library card number; the ILL staff of your library open "
                   "accounts."),
    "login.failed": ("账号或密码不正确。请重试；忘记密码请联系本馆馆际互借馆员。",
                     "Wrong user or password. Try again; if you forgot your password, ask your library's ILL "
                     "staff."),
    "login.rate_limited": ("登录尝试过于频繁，请 {seconds} 秒后再试。",
                           "Too many sign-in attempts; try again in {seconds} seconds."),
    "login.required": ("请先登录。", "Please sign in first."),
    "login.signed_out": ("您已退出。", "You are signed out."),
    "error.401": ("需要登录", "Sign-in needed"),
    "error.forbidden.role": ("此页面仅供{roles}使用。您以{role}身份登录。",
                             "This page is for {roles} only. You are signed in as {role}."),
    "error.forbidden": ("您无权查看或处理此内容：{why}", "You may not see or act on this: {why}"),
    "error.409": ("无法执行", "Not possible now"),
    "error.503": ("暂时无法服务", "Temporarily unavailable"),
    "error.ill": ("{message}", "{message}"),
}
