from aesp.proto.altar.aesp.v1 import enterprise_pb2 as _enterprise_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountingEvent(_message.Message):
    __slots__ = ("event_id", "timestamp_ms", "tenant_id", "principal_id", "session_id", "resource_type", "quantity", "unit", "unit_cost", "total_cost", "cost_center", "project_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    timestamp_ms: int
    tenant_id: str
    principal_id: str
    session_id: str
    resource_type: str
    quantity: float
    unit: str
    unit_cost: float
    total_cost: float
    cost_center: str
    project_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, event_id: _Optional[str] = ..., timestamp_ms: _Optional[int] = ..., tenant_id: _Optional[str] = ..., principal_id: _Optional[str] = ..., session_id: _Optional[str] = ..., resource_type: _Optional[str] = ..., quantity: _Optional[float] = ..., unit: _Optional[str] = ..., unit_cost: _Optional[float] = ..., total_cost: _Optional[float] = ..., cost_center: _Optional[str] = ..., project_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BudgetDefinition(_message.Message):
    __slots__ = ("budget_id", "name", "tenant_id", "cost_center", "amount", "currency", "period", "alert_thresholds", "auto_shutdown", "start_date", "end_date", "scope", "scope_value")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    AUTO_SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_VALUE_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    name: str
    tenant_id: str
    cost_center: str
    amount: float
    currency: str
    period: str
    alert_thresholds: _containers.RepeatedScalarFieldContainer[str]
    auto_shutdown: bool
    start_date: int
    end_date: int
    scope: str
    scope_value: str
    def __init__(self, budget_id: _Optional[str] = ..., name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., cost_center: _Optional[str] = ..., amount: _Optional[float] = ..., currency: _Optional[str] = ..., period: _Optional[str] = ..., alert_thresholds: _Optional[_Iterable[str]] = ..., auto_shutdown: _Optional[bool] = ..., start_date: _Optional[int] = ..., end_date: _Optional[int] = ..., scope: _Optional[str] = ..., scope_value: _Optional[str] = ...) -> None: ...

class BudgetStatus(_message.Message):
    __slots__ = ("budget_id", "amount", "spent", "currency", "period_start", "period_end", "thresholds_crossed", "exceeded", "reserved")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    THRESHOLDS_CROSSED_FIELD_NUMBER: _ClassVar[int]
    EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    amount: float
    spent: float
    currency: str
    period_start: int
    period_end: int
    thresholds_crossed: _containers.RepeatedScalarFieldContainer[str]
    exceeded: bool
    reserved: float
    def __init__(self, budget_id: _Optional[str] = ..., amount: _Optional[float] = ..., spent: _Optional[float] = ..., currency: _Optional[str] = ..., period_start: _Optional[int] = ..., period_end: _Optional[int] = ..., thresholds_crossed: _Optional[_Iterable[str]] = ..., exceeded: _Optional[bool] = ..., reserved: _Optional[float] = ...) -> None: ...

class BudgetAlert(_message.Message):
    __slots__ = ("budget_id", "threshold", "spent", "amount", "currency", "triggered_at")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_AT_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    threshold: str
    spent: float
    amount: float
    currency: str
    triggered_at: int
    def __init__(self, budget_id: _Optional[str] = ..., threshold: _Optional[str] = ..., spent: _Optional[float] = ..., amount: _Optional[float] = ..., currency: _Optional[str] = ..., triggered_at: _Optional[int] = ...) -> None: ...

class BudgetDetails(_message.Message):
    __slots__ = ("budget", "active", "approval_request_id", "status")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    budget: BudgetDefinition
    active: bool
    approval_request_id: str
    status: BudgetStatus
    def __init__(self, budget: _Optional[_Union[BudgetDefinition, _Mapping]] = ..., active: _Optional[bool] = ..., approval_request_id: _Optional[str] = ..., status: _Optional[_Union[BudgetStatus, _Mapping]] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("usage_event", "immediate_billing")
    USAGE_EVENT_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_BILLING_FIELD_NUMBER: _ClassVar[int]
    usage_event: AccountingEvent
    immediate_billing: bool
    def __init__(self, usage_event: _Optional[_Union[AccountingEvent, _Mapping]] = ..., immediate_billing: _Optional[bool] = ...) -> None: ...

class RecordUsageDetails(_message.Message):
    __slots__ = ("event_id", "total_cost", "triggered_alerts")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_ALERTS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    total_cost: float
    triggered_alerts: _containers.RepeatedCompositeFieldContainer[BudgetAlert]
    def __init__(self, event_id: _Optional[str] = ..., total_cost: _Optional[float] = ..., triggered_alerts: _Optional[_Iterable[_Union[BudgetAlert, _Mapping]]] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: RecordUsageDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[RecordUsageDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetUsageReportRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "resource_types", "aggregation", "group_by")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    resource_types: _containers.RepeatedScalarFieldContainer[str]
    aggregation: str
    group_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., resource_types: _Optional[_Iterable[str]] = ..., aggregation: _Optional[str] = ..., group_by: _Optional[_Iterable[str]] = ...) -> None: ...

class UsageBucket(_message.Message):
    __slots__ = ("period_start", "period_end", "resource_type", "quantity", "unit", "total_cost", "group", "event_count")
    class GroupEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    EVENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    period_start: int
    period_end: int
    resource_type: str
    quantity: float
    unit: str
    total_cost: float
    group: _containers.ScalarMap[str, str]
    event_count: int
    def __init__(self, period_start: _Optional[int] = ..., period_end: _Optional[int] = ..., resource_type: _Optional[str] = ..., quantity: _Optional[float] = ..., unit: _Optional[str] = ..., total_cost: _Optional[float] = ..., group: _Optional[_Mapping[str, str]] = ..., event_count: _Optional[int] = ...) -> None: ...

class UsageReport(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "aggregation", "buckets", "total_cost", "currency")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    aggregation: str
    buckets: _containers.RepeatedCompositeFieldContainer[UsageBucket]
    total_cost: float
    currency: str
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., aggregation: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[UsageBucket, _Mapping]]] = ..., total_cost: _Optional[float] = ..., currency: _Optional[str] = ...) -> None: ...

class GetUsageReportResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: UsageReport
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[UsageReport, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetTenantCostsRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "include_forecast")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FORECAST_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    include_forecast: bool
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., include_forecast: _Optional[bool] = ...) -> None: ...

class TenantCosts(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "total_cost", "currency", "cost_by_resource_type", "cost_by_principal", "cost_by_cost_center", "cost_by_project", "budgets", "forecast")
    class CostByResourceTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CostByPrincipalEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CostByCostCenterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CostByProjectEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    COST_BY_RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    COST_BY_PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    COST_BY_COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    COST_BY_PROJECT_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    FORECAST_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    total_cost: float
    currency: str
    cost_by_resource_type: _containers.ScalarMap[str, float]
    cost_by_principal: _containers.ScalarMap[str, float]
    cost_by_cost_center: _containers.ScalarMap[str, float]
    cost_by_project: _containers.ScalarMap[str, float]
    budgets: _containers.RepeatedCompositeFieldContainer[BudgetStatus]
    forecast: CostForecast
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., total_cost: _Optional[float] = ..., currency: _Optional[str] = ..., cost_by_resource_type: _Optional[_Mapping[str, float]] = ..., cost_by_principal: _Optional[_Mapping[str, float]] = ..., cost_by_cost_center: _Optional[_Mapping[str, float]] = ..., cost_by_project: _Optional[_Mapping[str, float]] = ..., budgets: _Optional[_Iterable[_Union[BudgetStatus, _Mapping]]] = ..., forecast: _Optional[_Union[CostForecast, _Mapping]] = ...) -> None: ...

class GetTenantCostsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: TenantCosts
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[TenantCosts, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class CreateBudgetRequest(_message.Message):
    __slots__ = ("budget", "tenant_id", "justification")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    JUSTIFICATION_FIELD_NUMBER: _ClassVar[int]
    budget: BudgetDefinition
    tenant_id: str
    justification: str
    def __init__(self, budget: _Optional[_Union[BudgetDefinition, _Mapping]] = ..., tenant_id: _Optional[str] = ..., justification: _Optional[str] = ...) -> None: ...

class CreateBudgetResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: BudgetDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[BudgetDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class SetBudgetAlertsRequest(_message.Message):
    __slots__ = ("budget_id", "tenant_id", "alert_thresholds", "notification_channels")
    BUDGET_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ALERT_THRESHOLDS_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    budget_id: str
    tenant_id: str
    alert_thresholds: _containers.RepeatedScalarFieldContainer[str]
    notification_channels: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, budget_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., alert_thresholds: _Optional[_Iterable[str]] = ..., notification_channels: _Optional[_Iterable[str]] = ...) -> None: ...

class SetBudgetAlertsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: BudgetDetails
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[BudgetDetails, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GetCostForecastRequest(_message.Message):
    __slots__ = ("tenant_id", "cost_center", "start_time", "end_time", "aggregation")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    cost_center: str
    start_time: int
    end_time: int
    aggregation: str
    def __init__(self, tenant_id: _Optional[str] = ..., cost_center: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., aggregation: _Optional[str] = ...) -> None: ...

class ForecastPoint(_message.Message):
    __slots__ = ("period_start", "period_end", "cost")
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    period_start: int
    period_end: int
    cost: float
    def __init__(self, period_start: _Optional[int] = ..., period_end: _Optional[int] = ..., cost: _Optional[float] = ...) -> None: ...

class CostForecast(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "forecast_cost", "lower_bound", "upper_bound", "currency", "method", "points", "budgets_at_risk")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    FORECAST_COST_FIELD_NUMBER: _ClassVar[int]
    LOWER_BOUND_FIELD_NUMBER: _ClassVar[int]
    UPPER_BOUND_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_AT_RISK_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    forecast_cost: float
    lower_bound: float
    upper_bound: float
    currency: str
    method: str
    points: _containers.RepeatedCompositeFieldContainer[ForecastPoint]
    budgets_at_risk: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., forecast_cost: _Optional[float] = ..., lower_bound: _Optional[float] = ..., upper_bound: _Optional[float] = ..., currency: _Optional[str] = ..., method: _Optional[str] = ..., points: _Optional[_Iterable[_Union[ForecastPoint, _Mapping]]] = ..., budgets_at_risk: _Optional[_Iterable[str]] = ...) -> None: ...

class GetCostForecastResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: CostForecast
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[CostForecast, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class GenerateInvoiceRequest(_message.Message):
    __slots__ = ("tenant_id", "start_time", "end_time", "cost_center")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_time: int
    end_time: int
    cost_center: str
    def __init__(self, tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., cost_center: _Optional[str] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("resource_type", "description", "quantity", "unit", "unit_cost", "amount", "cost_center", "project_id")
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_COST_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    resource_type: str
    description: str
    quantity: float
    unit: str
    unit_cost: float
    amount: float
    cost_center: str
    project_id: str
    def __init__(self, resource_type: _Optional[str] = ..., description: _Optional[str] = ..., quantity: _Optional[float] = ..., unit: _Optional[str] = ..., unit_cost: _Optional[float] = ..., amount: _Optional[float] = ..., cost_center: _Optional[str] = ..., project_id: _Optional[str] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("invoice_id", "tenant_id", "start_time", "end_time", "issued_at", "currency", "lines", "total", "cost_center")
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COST_CENTER_FIELD_NUMBER: _ClassVar[int]
    invoice_id: str
    tenant_id: str
    start_time: int
    end_time: int
    issued_at: int
    currency: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total: float
    cost_center: str
    def __init__(self, invoice_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., start_time: _Optional[int] = ..., end_time: _Optional[int] = ..., issued_at: _Optional[int] = ..., currency: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total: _Optional[float] = ..., cost_center: _Optional[str] = ...) -> None: ...

class GenerateInvoiceResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: Invoice
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[Invoice, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...

class ListBudgetsRequest(_message.Message):
    __slots__ = ("tenant_id", "limit", "cursor")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    limit: int
    cursor: str
    def __init__(self, tenant_id: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class BudgetList(_message.Message):
    __slots__ = ("items", "next_cursor")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[BudgetDetails]
    next_cursor: str
    def __init__(self, items: _Optional[_Iterable[_Union[BudgetDetails, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ListBudgetsResponse(_message.Message):
    __slots__ = ("success_details", "error")
    SUCCESS_DETAILS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    success_details: BudgetList
    error: _enterprise_pb2.EnterpriseError
    def __init__(self, success_details: _Optional[_Union[BudgetList, _Mapping]] = ..., error: _Optional[_Union[_enterprise_pb2.EnterpriseError, _Mapping]] = ...) -> None: ...
