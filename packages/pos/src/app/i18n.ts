/**
 * The app's texts, Simplified Chinese first, English second, and the one mapping from an error code
 * (the engine's, the SDK's, the gateway's catalogue in docs/api.md) to what the person is told.
 */
import type { Guidance } from "./quality.ts";

export type Lang = "zh" | "en";

const T = {
  title: ["刷脸核验", "Face check"],
  lang: ["English", "中文"],
  loading: ["正在加载…", "Loading…"],
  pairTitle: ["终端配对", "Pair this terminal"],
  pairIntro: [
    "本终端已在本机生成设备密钥（私钥不可导出）。请将下方配对码交给管理员登记，经另一名操作员批准后，输入管理员告知的设备编号。",
    "This terminal made its device keys on this device (the private keys cannot be exported). Give the pairing code below to an administrator; after a second operator approves it, enter the device id you were given.",
  ],
  pairCode: ["配对码", "Pairing code"],
  fingerprint: ["指纹（请与管理员核对）", "Fingerprint (compare with the administrator)"],
  deviceId: ["设备编号", "Device id"],
  pairDone: ["完成配对", "Finish pairing"],
  homeTitle: ["选择操作", "Choose an action"],
  personId: ["人员编号", "Person id"],
  personHint: ["商户负责人或收银员的编号", "The merchant principal's or cashier's id"],
  enrol: ["录入人脸", "Enrol face"],
  verify: ["刷脸核验", "Verify face"],
  withdraw: ["撤回同意", "Withdraw consent"],
  deregister: ["注销人脸", "Deregister face"],
  device: ["设备", "Device"],
  noticeTitle: ["人脸识别隐私告知", "Privacy notice"],
  noticePurpose: ["目的", "Purpose"],
  noticePurposeText: ["在您使用本收款终端时核验您是登记的商户负责人或收银员（防欺诈）。", "To check that you are the registered merchant principal or cashier when you use this terminal (anti-fraud)."],
  noticeMethod: ["方式", "Method"],
  noticeMethodText: [
    "人脸在本终端上转换为特征向量，图像不离开终端；向量被拆分为两份随机分片，分别加密给两家持有方，双方通过安全多方计算比对，只得出是否匹配。",
    "Your face is turned into a feature vector on this terminal; no image leaves it. The vector is split into two random shares, each encrypted to one holder; they compare them by secure multi-party computation and only the match decision comes out.",
  ],
  noticeScope: ["范围", "Scope"],
  noticeScopeText: ["仅人脸模板分片；姓名、身份证号、手机号由收单机构加密保存。", "The face template shares only; your name, ID number and phone stay with the acquirer, encrypted."],
  noticeRetention: ["保存期限", "Retention"],
  noticeRetentionText: ["直至您关闭人脸核验或注销，届时两家持有方均删除模板。", "Until you turn face verification off or deregister; both holders then delete the template."],
  noticeHolders: ["持有方", "Holders"],
  noticeHoldersText: ["P0：收单银行；P1：卡组织。任何一方单独无法还原您的人脸特征。", "P0: the acquiring bank; P1: the card network. Neither alone can rebuild your face features."],
  noticeFull: ["告知全文（版本 {v}）", "Full notice (version {v})"],
  agree: ["同意并继续", "Agree and continue"],
  refuse: ["不同意", "Refuse"],
  refusedTitle: ["已选择不使用人脸", "Face check declined"],
  refusedText: ["您可以改用其他方式核验身份：收银员密码或短信验证码，或请店长协助。未开启摄像头，未采集任何信息。", "You can use another way to confirm who you are: the cashier password or an SMS code, or ask the manager. The camera was not opened and nothing was collected."],
  captureTitle: ["请正对镜头", "Look at the camera"],
  liveTitle: ["请按提示做动作", "Follow the prompts"],
  liveIntro: ["为确认是本人在场，请依次完成下列动作（每步 6 秒内）：", "To confirm you are here in person, do these actions in order (6 s for each):"],
  liveStep: ["第 {n}/{m} 步", "Step {n} of {m}"],
  cancel: ["取消", "Cancel"],
  back: ["返回", "Back"],
  working: ["正在处理，请稍候…", "Working, please wait…"],
  acceptTitle: ["核验通过", "Verified"],
  acceptText: ["身份核验成功。", "Your identity was confirmed."],
  rejectTitle: ["核验未通过", "Not verified"],
  rejectText: ["人脸与登记的不一致。可重试，或改用其他方式。", "The face does not match the registered one. Try again or use another way."],
  enrolledTitle: ["录入成功", "Enrolled"],
  enrolledText: ["人脸模板已分片保存在两家持有方；本终端未保存任何图像或特征。", "The face template is stored as shares at the two holders; this terminal kept no image or feature."],
  withdrawTitle: ["撤回同意", "Withdraw consent"],
  withdrawText: ["撤回后立即停止人脸核验。若近期在本终端核验通过，模板将在两家持有方删除；否则模板停用，需操作员核实身份后删除。", "Face verification stops at once. If you were verified on this terminal a moment ago, the template is deleted at both holders; otherwise it is disabled until an operator confirms your identity and deletes it."],
  withdrawConfirm: ["确认撤回", "Withdraw"],
  withdrawnTitle: ["已撤回同意", "Consent withdrawn"],
  deletedText: ["人脸模板已在两家持有方删除。", "The face template was deleted at both holders."],
  disabledText: ["人脸模板已停用。", "The face template is disabled."],
  pendingText: ["删除已登记，将在服务恢复后完成。", "The deletion is recorded and will finish when the service is back."],
  deregisterText: ["注销前需要先刷脸核验本人。", "You are verified first, then the template is deleted."],
  deregisteredTitle: ["已注销", "Deregistered"],
  errorTitle: ["无法完成", "Could not finish"],
  again: ["重新开始", "Try again"],
  home: ["返回首页", "Home"],
  code: ["代码", "Code"],
} as const;

export type TextKey = keyof typeof T;

const GUIDE: Record<Guidance, [string, string]> = {
  "no-face": ["未检测到人脸，请正对镜头", "No face found: look at the camera"],
  "multiple-faces": ["画面中有多张人脸，请只留本人", "More than one face: only you, please"],
  closer: ["请靠近一点", "Move closer"],
  farther: ["请离远一点", "Move back a little"],
  center: ["请将脸移到框中央", "Centre your face in the frame"],
  "face-camera": ["请正对镜头，不要侧脸", "Face the camera straight on"],
  "too-dark": ["光线太暗，请到明亮处", "Too dark: find more light"],
  "too-bright": ["光线太强，请避开强光", "Too bright: avoid direct light"],
  "hold-still": ["请保持不动", "Hold still"],
  good: ["很好，保持不动…", "Good, hold still…"],
};

/** Active liveness prompts (issue 17): what the person is asked to do now. */
const PROMPTS: Record<string, [string, string]> = {
  "look-at-camera": ["请正对镜头，保持自然表情", "Look straight at the camera, face relaxed"],
  blink: ["请眨眨眼", "Blink your eyes"],
  "turn-left": ["请慢慢向左转头，再转回来", "Slowly turn your head to your left, then back"],
  "turn-right": ["请慢慢向右转头，再转回来", "Slowly turn your head to your right, then back"],
  "open-mouth": ["请张嘴，再闭上", "Open your mouth, then close it"],
  "hold-still": ["很好，请正对镜头保持不动…", "Good, look at the camera and hold still…"],
};

/** The short name of an action in the step list. */
const ACTIONS: Record<string, [string, string]> = {
  blink: ["眨眼", "Blink"],
  "turn-left": ["向左转头", "Turn left"],
  "turn-right": ["向右转头", "Turn right"],
  "open-mouth": ["张嘴", "Open mouth"],
};

export function prompt(lang: Lang, p: string): string {
  return (PROMPTS[p] ?? PROMPTS["look-at-camera"])[idx(lang)];
}

export function actionName(lang: Lang, a: string): string {
  return (ACTIONS[a] ?? [a, a])[idx(lang)];
}

/** Error codes → [zh, en]. Codes not listed get the generic text with the code shown. */
const ERRORS: Record<string, [string, string]> = {
  NO_FACE: ["未检测到人脸。请正对镜头，光线充足后重试。", "No face was found. Face the camera in good light and try again."],
  FACE_TOO_SMALL: ["人脸太小，请靠近镜头。", "The face is too small: move closer."],
  MULTIPLE_FACES: ["画面中有多张人脸，请只留本人。", "More than one face: only the person being checked, please."],
  LIVENESS_FAILED: ["疑似非真人（照片、屏幕或面具）。请本人直接面对镜头重试。", "Spoof suspected (a photo, screen or mask). The person must face the camera themselves."],
  LIVENESS_ACTIONS_MISMATCH: ["动作与提示不符，疑似非真人（录像或照片）。请本人按提示重试。", "The actions did not match the prompts: spoof suspected (a recording or photo). The person must try again following the prompts."],
  LIVENESS_TIMEOUT: ["未在规定时间内完成动作。请按提示重试。", "The action was not done in time. Try again following the prompts."],
  LIVENESS_FACE_LOST: ["动作过程中人脸离开了画面。请保持人脸在框内重试。", "The face left the picture during the actions. Keep your face in the frame and try again."],
  LIVENESS_FACE_CHANGED: ["动作前后不是同一张人脸，疑似非真人。", "The face after the actions is not the face before them: spoof suspected."],
  PERSON_LOCKED: ["多次核验失败，该人员已被锁定，请联系操作员解锁。", "Locked out after repeated failures: ask an operator to unlock."],
  DEVICE_LOCKED: ["多次核验失败，本终端已被锁定，请联系操作员解锁。", "This terminal is locked after repeated failures: ask an operator to unlock it."],
  RATE_LIMITED: ["操作过于频繁，请稍后再试。", "Too many attempts: wait a moment and try again."],
  NOT_ENROLLED: ["该人员尚未录入人脸，请先录入。", "Not enrolled yet: enrol the face first."],
  ALREADY_ENROLLED: ["该人员已录入人脸。如需重新录入请先注销。", "Already enrolled. Deregister first to enrol again."],
  DUPLICATE_ENROLMENT: ["该人脸已在系统中录入（可能用于其他人员），本次录入被拒绝。请联系操作员。", "This face is already enrolled (possibly as another person): the enrolment is refused. Contact an operator."],
  HELD_FOR_REVIEW: ["该人脸与已录入人员相似，本次录入须经操作员复核后才能使用。请联系操作员。", "This face resembles an enrolled person: the enrolment can be used only after an operator's review. Contact an operator."],
  ENROLMENT_HELD: ["该人员的录入正在等待操作员复核，暂不能核验。", "This person's enrolment awaits an operator's review: no verification until then."],
  PERSON_UNKNOWN: ["未找到该人员编号。", "No such person id."],
  CONSENT_REQUIRED: ["需要先同意隐私告知。", "Consent to the privacy notice is needed first."],
  CONSENT_WITHDRAWN: ["已撤回同意，人脸核验已关闭。", "Consent was withdrawn: face verification is off."],
  CONSENT_OUTDATED: ["隐私告知已更新，请重新阅读并同意。", "The privacy notice changed: read and agree again."],
  NOTICE_MISMATCH: ["隐私告知已更新，请重新阅读并同意。", "The privacy notice changed: read and agree again."],
  REVERIFY_REQUIRED: ["注销前需要刚刚在本终端核验通过。", "Deregistration needs a successful verification on this terminal just before."],
  NOT_VERIFIED: ["本人核验未通过，未注销。", "The verification did not pass; nothing was deleted."],
  DEVICE_UNAUTHENTICATED: ["本终端未登记或未激活，请重新配对。", "This terminal is not registered or not active: pair it again."],
  DEVICE_PENDING: ["本终端正等待第二名操作员批准。", "This terminal awaits a second operator's approval."],
  DEVICE_REVOKED: ["本终端已被停用。", "This terminal has been revoked."],
  DEVICE_MERCHANT_MISMATCH: ["该人员不属于本终端的商户。", "This person belongs to another merchant."],
  PERSON_BUSY: ["该人员有操作正在进行，请稍后再试。", "Another operation for this person is in progress: try again shortly."],
  MPC_UNAVAILABLE: ["人脸核验服务暂不可用（降级模式），请改用其他方式，稍后再试。", "Face verification is unavailable for now (degraded mode): use another way and try again later."],
  SERVICE_UNAVAILABLE: ["服务暂不可用，请改用其他方式，稍后再试。", "The service is unavailable: use another way and try again later."],
  GATEWAY_UNREACHABLE: ["网络不可用，无法连接服务。请检查网络或改用其他方式。", "Network unavailable: cannot reach the service. Check the connection or use another way."],
  GATEWAY_BAD_RESPONSE: ["服务应答异常，请稍后再试。", "The service answered unexpectedly: try again later."],
  CAMERA_UNAVAILABLE: ["无法打开摄像头，请检查权限。", "The camera cannot be opened: check the permission."],
  CAPTURE_TIMEOUT: ["未能采集到清晰的人脸，请在光线充足处正对镜头重试。", "No clear face was captured: face the camera in good light and try again."],
  KEY_LIST_UNTRUSTED: ["持有方密钥校验失败，已停止发送。请联系管理员。", "The holders' keys failed the check; nothing was sent. Contact the administrator."],
  KEY_LIST_EXPIRED: ["持有方密钥已过期，已停止发送。请联系管理员。", "The holders' keys have expired; nothing was sent. Contact the administrator."],
  KEY_LIST_ROLLBACK: ["持有方密钥版本异常，已停止发送。请联系管理员。", "The holders' key list was rolled back; nothing was sent. Contact the administrator."],
  SHARE_REJECTED: ["持有方拒绝了请求，请重试。", "A holder refused the request: try again."],
};

const GENERIC: [string, string] = ["操作失败，请重试或改用其他方式。", "The operation failed: try again or use another way."];

const idx = (l: Lang) => (l === "zh" ? 0 : 1);

export function t(lang: Lang, key: TextKey, vars: Record<string, string> = {}): string {
  return T[key][idx(lang)].replace(/\{(\w+)\}/g, (_, k: string) => vars[k] ?? "");
}

export function guide(lang: Lang, g: Guidance): string {
  return GUIDE[g][idx(lang)];
}

/** What the person is told for an error code; HTTP_5xx and unknown codes fall back. */
export function errorText(lang: Lang, code: string): string {
  if (/^HTTP_5\d\d$/.test(code)) return ERRORS.SERVICE_UNAVAILABLE[idx(lang)];
  return (ERRORS[code] ?? GENERIC)[idx(lang)];
}

/** The codes with a text of their own (tests check the list). */
export const ERROR_CODES = Object.keys(ERRORS);
