"""Portal texts of operations: the holiday calendar and demo data (key: (Chinese, English))."""

MESSAGES: dict[str, tuple[str, str]] = {
    "holidays.title": ("节假日安排", "Holiday calendar"),
    "holidays.link": ("节假日安排", "Holiday calendar"),
    "holidays.missing": ("{year} 年的节假日安排尚未录入：期限将按周一至周五计算，春节等假期会被算作工作日。"
                         "请按国务院公布的通知录入节假日和调休上班日。",
                         "The {year} holiday calendar is missing: deadlines count Monday to Friday and the Spring "
                         "Festival would count as working days. Enter the official holidays and swapped working "
                         "days from the State Council's notice."),
    "holidays.intro": ("馆际互借期限按工作日计算（遇节假日顺延）。此处录入的节假日和调休上班日优先于工作日程序库；"
                       "程序库在国务院每年 11 月发布通知后才会更新。",
                       "ILL deadlines count working days (holidays push them back). Holidays and swapped working "
                       "days entered here take precedence over the working-day library, which learns a year only "
                       "after the State Council's notice each November."),
    "holidays.library": ("工作日程序库已含 {first}–{last} 年。", "The working-day library knows {first}–{last}."),
    "holidays.entered": ("已录入的年份", "Years entered"),
    "holidays.no_years": ("尚未录入任何年份。", "No year entered yet."),
    "holidays.year": ("年份", "Year"),
    "holidays.holidays": ("放假日期", "Holidays"),
    "holidays.workdays": ("调休上班日期", "Swapped working days"),
    "holidays.source": ("依据（通知文号）", "Source (the notice)"),
    "holidays.origin": ("来源", "Entered in"),
    "holidays.origin.admin": ("本页录入", "this page"),
    "holidays.origin.config": ("随软件发布 (config/holidays.toml)", "shipped (config/holidays.toml)"),
    "holidays.enter": ("录入或替换一年", "Enter or replace a year"),
    "holidays.days_hint": ("每行一个日期 YYYY-MM-DD 或区间 YYYY-MM-DD..YYYY-MM-DD",
                           "one date YYYY-MM-DD or range YYYY-MM-DD..YYYY-MM-DD per line"),
    "holidays.save": ("保存", "Save"),
    "holidays.saved": ("{year} 年的节假日安排已保存，新的期限按此计算。",
                       "The {year} calendar is saved; new deadlines count by it."),
    "holidays.bad_year": ("年份须为四位数字，如 2027", "The year must be four digits, e.g. 2027"),
    "holidays.none": ("{year} 年没有填写任何放假日期", "no holiday was given for {year}"),
    "holidays.unreadable": ("节假日文件无法读取，未使用：", "A holiday file could not be read and is not used:"),
    "demo.notice": ("演示数据 demo data：此处的馆际互借记录由测试环境生成，并非真实借阅。",
                    "演示数据 demo data: these ILL records were generated on the demo test bed, not real loans."),
}
