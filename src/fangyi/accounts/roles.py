"""Roles (REQUIREMENTS §2) and what each may do.

A role is a job; a capability is one thing the system allows. Views and services ask for a
capability (`user.can(Capability.REVEAL_PERSONAL_DATA)`), never for a role, so the mapping
below is the one place where a job's rights are decided.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RoleCode(models.TextChoices):
    COMMANDER = "commander", _("指挥部领导")
    CDC_EPIDEMIOLOGIST = "cdc_epidemiologist", _("疾控流调人员")
    CDC_REVIEWER = "cdc_reviewer", _("疾控审核人员")
    CLINICIAN = "clinician", _("临床医生/报告人")
    LAB_STAFF = "lab_staff", _("检验人员")
    STREET_WORKER = "street_worker", _("街道/社区工作人员")
    GRID_WORKER = "grid_worker", _("网格员")
    FACILITY_STAFF = "facility_staff", _("隔离场所工作人员")
    SCHOOL_DOCTOR = "school_doctor", _("校医")
    PHARMACY_CLERK = "pharmacy_clerk", _("药店店员")
    SUPPLIES_OFFICER = "supplies_officer", _("物资管理员")
    REPORTING_UNIT = "reporting_unit", _("宾馆/用人单位报备员")
    ADMIN = "admin", _("系统管理员")


class Capability(models.TextChoices):
    VIEW_PERSONS = "view_persons", _("查看人员")
    EDIT_PERSONS = "edit_persons", _("登记和修改人员")
    REVEAL_PERSONAL_DATA = "reveal_personal_data", _("查看完整证件号和电话")
    EXPORT_DATA = "export_data", _("导出数据")
    VIEW_AUDIT = "view_audit", _("查看审计日志")
    REPORT_CASES = "report_cases", _("填报传染病报告卡")
    REVIEW_CASES = "review_cases", _("审核、订正和删除报告卡")
    INVESTIGATE_CASES = "investigate_cases", _("流行病学调查")
    TRACE_CONTACTS = "trace_contacts", _("登记密接和落实管控")
    VIEW_MEASURES = "view_measures", _("查看管控人员和健康监测")
    MANAGE_MEASURES = "manage_measures", _("落实管控措施、解除和转出")
    RECORD_CHECKS = "record_checks", _("录入健康监测和管控期检测结果")
    MANAGE_FACILITIES = "manage_facilities", _("管理隔离场所和房间")
    PUBLISH_POLICIES = "publish_policies", _("发布管控政策")
    VIEW_LAB = "view_lab", _("查看采样检测和筛查进度")
    COLLECT_SAMPLES = "collect_samples", _("采样登记")
    RECORD_RESULTS = "record_results", _("录入和导入检测结果")
    MANAGE_SCREENING = "manage_screening", _("组织全员核酸筛查")
    VIEW_ARRIVALS = "view_arrivals", _("查看来返人员、风险地区和入户排查")
    REGISTER_ARRIVALS = "register_arrivals", _("登记来返人员")
    PUBLISH_RISK_AREAS = "publish_risk_areas", _("发布风险地区名单")
    CANVASS = "canvass", _("入户排查")
    MANAGE_CANVASS = "manage_canvass", _("组织入户排查轮次")
    SUBMIT_DAILY_REPORTS = "submit_daily_reports", _("填报社区日报告")
    VIEW_SURVEILLANCE = "view_surveillance", _("查看监测预警信号和疫情分析")
    RESPOND_SIGNALS = "respond_signals", _("核实和处置预警信号")
    MANAGE_SURVEILLANCE = "manage_surveillance", _("运行预警、安排值班和分析研判")
    REPORT_SALES = "report_sales", _("填报药店购药登记")
    REPORT_FEVER_VISITS = "report_fever_visits", _("填报发热门诊就诊")
    REPORT_ABSENCES = "report_absences", _("填报因病缺勤")
    FOLLOW_UP_BUYERS = "follow_up_buyers", _("跟进发热购药人员")
    MANAGE_USERS = "manage_users", _("管理用户")
    ADMINISTER = "administer", _("管理系统配置（后台管理）")


C = Capability
ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    RoleCode.COMMANDER: frozenset(
        {C.VIEW_PERSONS, C.VIEW_MEASURES, C.VIEW_LAB, C.VIEW_ARRIVALS, C.VIEW_SURVEILLANCE}
    ),
    RoleCode.CDC_EPIDEMIOLOGIST: frozenset(
        {
            C.VIEW_PERSONS,
            C.EDIT_PERSONS,
            C.REVEAL_PERSONAL_DATA,
            C.EXPORT_DATA,
            C.REPORT_CASES,
            C.INVESTIGATE_CASES,
            C.TRACE_CONTACTS,
            C.VIEW_MEASURES,
            C.MANAGE_MEASURES,
            C.RECORD_CHECKS,
            C.VIEW_LAB,
            C.COLLECT_SAMPLES,
            C.MANAGE_SCREENING,
            C.VIEW_ARRIVALS,
            C.REGISTER_ARRIVALS,
            C.PUBLISH_RISK_AREAS,
            C.VIEW_SURVEILLANCE,
            C.RESPOND_SIGNALS,
            C.MANAGE_SURVEILLANCE,
            C.REPORT_FEVER_VISITS,
        }
    ),
    RoleCode.CDC_REVIEWER: frozenset(
        {
            C.VIEW_PERSONS,
            C.REVEAL_PERSONAL_DATA,
            C.EXPORT_DATA,
            C.REVIEW_CASES,
            C.VIEW_LAB,
            C.VIEW_SURVEILLANCE,
        }
    ),
    RoleCode.CLINICIAN: frozenset(
        {
            C.VIEW_PERSONS,
            C.EDIT_PERSONS,
            C.REVEAL_PERSONAL_DATA,
            C.REPORT_CASES,
            C.VIEW_LAB,
            C.COLLECT_SAMPLES,
            C.REPORT_FEVER_VISITS,
        }
    ),
    RoleCode.LAB_STAFF: frozenset(
        {C.VIEW_PERSONS, C.EXPORT_DATA, C.VIEW_LAB, C.COLLECT_SAMPLES, C.RECORD_RESULTS}
    ),
    RoleCode.STREET_WORKER: frozenset(
        {
            C.VIEW_PERSONS,
            C.EDIT_PERSONS,
            C.REVEAL_PERSONAL_DATA,
            C.EXPORT_DATA,
            C.TRACE_CONTACTS,
            C.VIEW_MEASURES,
            C.MANAGE_MEASURES,
            C.RECORD_CHECKS,
            C.VIEW_LAB,
            C.COLLECT_SAMPLES,
            C.MANAGE_SCREENING,
            C.VIEW_ARRIVALS,
            C.REGISTER_ARRIVALS,
            C.CANVASS,
            C.MANAGE_CANVASS,
            C.SUBMIT_DAILY_REPORTS,
            C.FOLLOW_UP_BUYERS,
        }
    ),
    RoleCode.GRID_WORKER: frozenset(
        {
            C.VIEW_PERSONS,
            C.EDIT_PERSONS,
            C.REVEAL_PERSONAL_DATA,
            C.EXPORT_DATA,
            C.TRACE_CONTACTS,
            C.VIEW_MEASURES,
            C.MANAGE_MEASURES,
            C.RECORD_CHECKS,
            C.VIEW_LAB,
            C.COLLECT_SAMPLES,
            C.VIEW_ARRIVALS,
            C.REGISTER_ARRIVALS,
            C.CANVASS,
            C.FOLLOW_UP_BUYERS,
        }
    ),
    RoleCode.FACILITY_STAFF: frozenset(
        {
            C.VIEW_PERSONS,
            C.REVEAL_PERSONAL_DATA,
            C.EXPORT_DATA,
            C.VIEW_MEASURES,
            C.MANAGE_MEASURES,
            C.RECORD_CHECKS,
            C.MANAGE_FACILITIES,
            C.VIEW_LAB,
            C.COLLECT_SAMPLES,
        }
    ),
    RoleCode.SCHOOL_DOCTOR: frozenset({C.VIEW_PERSONS, C.REPORT_ABSENCES}),
    RoleCode.PHARMACY_CLERK: frozenset({C.REPORT_SALES}),
    RoleCode.SUPPLIES_OFFICER: frozenset(),
    # A hotel or employer registers its guests and staff who arrive; it sees nobody else.
    RoleCode.REPORTING_UNIT: frozenset({C.REGISTER_ARRIVALS}),
    RoleCode.ADMIN: frozenset(Capability.values),
}
